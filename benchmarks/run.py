"""Benchmark: kdigital against the naive docxtpl loop, at district, state and nation scale.

    .venv/bin/python benchmarks/run.py            # 22, 421 and 10,751 municipalities (several minutes)
    .venv/bin/python benchmarks/run.py --smoke    # small sizes only, as CI runs it

For each size it builds a synthetic roster from the shipped one (names with commas,
parentheses, slashes and umlauts, unique AGS), runs the real CLI as a separate
process and reports wall time per document and the peak memory (RSS) of the largest
process. In the same run it times the naive docxtpl loop (DocxTemplate(path) ->
render -> save per document) on the same template and data, on the letter template
and on a plain two-page reference letter, and one `soffice --convert-to pdf` call per
file against the batch route. The naive loops run on a sample of the documents (they
take ~45 ms each); per-document times are what is compared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "work"
KDIGITAL = [sys.executable, "-m", "kdigital"]

# Runs a command, then prints its wall time and the peak RSS (KiB) of the largest process it waited for.
_MEASURE = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)\n"
    "elapsed = time.perf_counter() - t\n"
    "if r.returncode: sys.exit(r.stderr[-2000:])\n"
    "print(elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def measure(cmd: list[str]) -> tuple[float, float]:
    """(seconds, peak MB of the largest process) of running ``cmd``."""
    out = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, check=True)
    seconds, kib = out.stdout.split()
    return float(seconds), int(kib) / 1024


def make_workspace(size: int) -> Path:
    """A workspace with a roster of ``size`` municipalities derived from the shipped one."""
    from kdigital.synthetic import grow_roster
    from kdigital.workspace import init_workspace, shipped_workspace

    root = WORK / f"ws-{size}"
    shutil.rmtree(root, ignore_errors=True)
    ws = init_workspace(root, shipped_workspace())
    grow_roster(ws.roster, size)
    return root


def naive_ms(template: Path, contexts: list[dict]) -> float:
    """Milliseconds per document of the naive docxtpl loop, writing files like kdigital does."""
    from kdigital.render import render_naive

    out = WORK / "naive"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    start = time.perf_counter()
    for i, context in enumerate(contexts):
        (out / f"{i}.docx").write_bytes(render_naive(template, context))
    return (time.perf_counter() - start) * 1000 / len(contexts)


def letter_contexts(root: Path, count: int) -> list[dict]:
    from kdigital.costs import letter_rates
    from kdigital.inputs import load_inputs
    from kdigital.letters import LetterJob
    from kdigital.workspace import Workspace

    inputs = load_inputs(Workspace(root))
    job = LetterJob(inputs.campaign, letter_rates(inputs.cost_model, inputs.roster))
    return [job(m)[1] for m in inputs.roster[:count]]


def reference_template() -> Path:
    """A plain two-page letter with a handful of placeholders and no layout tricks."""
    import docx

    path = WORK / "reference-letter.docx"
    d = docx.Document()
    for line in ("{% for zeile in anschrift %}{{ zeile }}\n{% endfor %}", "{{ kampagne.briefdatum }}",
                 "{{ anrede }}"):
        d.add_paragraph(line)
    text = ("Dies ist ein schlichter Referenzbrief ohne Tabellen und Kopfzeilen, damit der Vergleich "
            "nicht von der Gestaltung der Vorlage abhängt. ") * 6
    for _ in range(14):
        d.add_paragraph(text)
    d.add_paragraph("Kennung {{ kennung }} – Kosten {{ kosten.satz_alle }} je Einwohner/in")
    d.add_paragraph("Mit freundlichen Grüßen")
    d.add_paragraph("{{ kampagne.unterzeichner }}")
    d.save(path)
    return path


def fast_ms(template: Path, contexts: list[dict]) -> float:
    """Milliseconds per document of kdigital's renderer in this process (one core)."""
    from kdigital.render import DocumentTemplate

    out = WORK / "fast"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    start = time.perf_counter()
    prepared = DocumentTemplate(template)
    for i, context in enumerate(contexts):
        (out / f"{i}.docx").write_bytes(prepared.render(context))
    return (time.perf_counter() - start) * 1000 / len(contexts)


def soffice_per_file_ms(docs: list[Path]) -> float:
    """Milliseconds per document of one `soffice --convert-to pdf` process per file."""
    from kdigital.soffice import PDF_FILTER, find_soffice

    soffice = find_soffice()
    out = WORK / "soffice-single"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    profile = WORK / "soffice-profile"
    start = time.perf_counter()
    for doc in docs:
        subprocess.run([soffice, "--headless", "--norestore", f"-env:UserInstallation=file://{profile}",
                        "--convert-to", PDF_FILTER, "--outdir", str(out), str(doc)],
                       check=True, capture_output=True, timeout=120)
    return (time.perf_counter() - start) * 1000 / len(docs)


def help_seconds(runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([*KDIGITAL, "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="22,421,10751")
    parser.add_argument("--pdf-sizes", default="22,421")
    parser.add_argument("--naive-sample", type=int, default=200, help="documents for the naive loop")
    parser.add_argument("--soffice-sample", type=int, default=10, help="documents for one soffice per file")
    parser.add_argument("--smoke", action="store_true", help="small sizes for CI: 22 and 200, PDF for 22")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.pdf_sizes, args.naive_sample, args.soffice_sample = "22,200", "22", 20, 2
    sizes = [int(s) for s in args.sizes.split(",") if s]
    pdf_sizes = [int(s) for s in args.pdf_sizes.split(",") if s]
    WORK.mkdir(parents=True, exist_ok=True)
    results = {"cores": os.cpu_count(), "help_s": help_seconds(), "sizes": []}
    reference = reference_template()
    has_costs = subprocess.run([*KDIGITAL, "costs", "--help"], capture_output=True).returncode == 0

    for size in sizes:
        root = make_workspace(size)
        row = {"size": size}
        seconds, peak = measure([*KDIGITAL, "-w", str(root), "letters", "--silent"])
        files = list((root / "outputs" / "letters").glob("*.docx"))
        assert len(files) == size, f"{len(files)} letters for {size} municipalities"
        row.update(letters_ms=seconds * 1000 / size, letters_peak_mb=peak)
        contexts = letter_contexts(root, min(size, args.naive_sample))
        letter_template = root / "templates" / "interessensbekundung.docx"
        row["naive_letter_ms"] = naive_ms(letter_template, contexts)
        row["fast_letter_1core_ms"] = fast_ms(letter_template, contexts)
        row["naive_reference_ms"] = naive_ms(reference, contexts)
        row["fast_reference_1core_ms"] = fast_ms(reference, contexts)
        # The reference letter uses only placeholders of the letter's context, so the real CLI can
        # render it in place of the letter template: everything included, as for the letter.
        original = letter_template.read_bytes()
        shutil.copy(reference, letter_template)
        try:
            seconds, _ = measure([*KDIGITAL, "-w", str(root), "letters", "--silent"])
        finally:
            letter_template.write_bytes(original)
        row["reference_cli_ms"] = seconds * 1000 / size
        if has_costs:
            seconds, peak = measure([*KDIGITAL, "-w", str(root), "costs", "--silent"])
            row.update(costs_ms=seconds * 1000 / size, costs_peak_mb=peak)
        if size in pdf_sizes:
            seconds, peak = measure([*KDIGITAL, "-w", str(root), "letters", "--pdf", "--silent"])
            row.update(letters_pdf_ms=seconds * 1000 / size, letters_pdf_peak_mb=peak)
            sample = sorted(files)[: args.soffice_sample]
            row["soffice_per_file_ms"] = soffice_per_file_ms(sample)
        results["sizes"].append(row)
        print(json.dumps(row), file=sys.stderr)

    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def report(results: dict) -> str:
    """The results as a Markdown table."""
    lines = [
        f"`kdigital --help`: {results['help_s'] * 1000:.0f} ms wall (median of 7); {results['cores']} cores.",
        "",
        "| municipalities | letters ms/doc (CLI, everything) | peak MB | naive docxtpl ms/doc | ratio "
        "| reference letter: naive / CLI ms/doc (ratio) | costs ms/doc "
        "| letters --pdf ms/doc | PDF part ms/doc | soffice per file ms/doc | PDF ratio |",
        "|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in results["sizes"]:
        cells = [
            f"{r['size']:,}",
            f"{r['letters_ms']:.2f}",
            f"{r['letters_peak_mb']:.0f}",
            f"{r['naive_letter_ms']:.1f}",
            f"{r['naive_letter_ms'] / r['letters_ms']:.0f}×",
            f"{r['naive_reference_ms']:.1f} / {r['reference_cli_ms']:.2f} "
            f"({r['naive_reference_ms'] / r['reference_cli_ms']:.0f}×)",
            f"{r['costs_ms']:.2f}" if "costs_ms" in r else "–",
        ]
        if "letters_pdf_ms" in r:
            pdf_part = r["letters_pdf_ms"] - r["letters_ms"]
            cells += [f"{r['letters_pdf_ms']:.0f}", f"{pdf_part:.0f}", f"{r['soffice_per_file_ms']:.0f}",
                      f"{r['soffice_per_file_ms'] / pdf_part:.1f}×"]
        else:
            cells += ["–"] * 4
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
