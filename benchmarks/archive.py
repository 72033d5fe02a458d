"""Benchmark: `kdigital archive` on scanned returns, beside `qpdf --empty --pages … --` on the same files.

    .venv/bin/python benchmarks/archive.py            # 22 and 421 returns of 3 A4 pages at 300 dpi (~1 MB a page)
    .venv/bin/python benchmarks/archive.py --smoke    # 22 small returns, as CI runs it

Each return is an image-only PDF as a copier writes it (img2pdf, JPEG pages,
grey noise with dark "text" bars, ~1 MB a page at 300 dpi), named by its
identifier. Pages are made from a small pool of rendered pages, each made
unique by a JPEG comment, so that no two pages share bytes (deduplication
would otherwise flatter kdigital). Every command runs as a separate process;
time is wall time, memory the peak RSS of that process. In the same run:
qpdf's own page merge (the floor: no checks, hashes, copies, index or
outline), and for small sizes pypdf's PdfWriter, which holds every page in
memory until it writes.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "archive"
KDIGITAL = [sys.executable, "-m", "kdigital"]
PYPDF_MERGE = (
    "import sys\n"
    "from pypdf import PdfWriter\n"
    "w = PdfWriter()\n"
    "for f in sys.argv[2:]: w.append(f)\n"
    "w.write(sys.argv[1])\n"
)
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
    """(seconds, peak MB) of running ``cmd`` as its own process."""
    out = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{cmd[:3]} failed: {out.stderr}")
    seconds, kib = out.stdout.split()
    return float(seconds), int(kib) / 1024


def page_pool(count: int, dpi: int) -> list[bytes]:
    """``count`` different A4 grey-scale JPEG pages at ``dpi`` (~1 MB each at 300 dpi)."""
    from PIL import Image, ImageDraw

    size = (round(8.27 * dpi), round(11.69 * dpi))
    pool = []
    for seed in range(count):
        image = Image.effect_noise(size, 8 + seed % 3).point(lambda v: min(255, v + 100))
        draw = ImageDraw.Draw(image)
        line = max(2, dpi // 12)
        for y in range(dpi, size[1] - dpi, line * 2 + seed % 5):
            draw.rectangle((dpi * 0.8, y, size[0] - dpi * 0.8 - (y * 7 + seed * 131) % (size[0] // 3), y + line),
                           fill=40)
        out = io.BytesIO()
        image.save(out, "JPEG", quality=70, dpi=(dpi, dpi))
        pool.append(out.getvalue())
    return pool


def unique(jpeg: bytes, tag: str) -> bytes:
    """The same JPEG with a comment segment naming ``tag``: other bytes, same picture."""
    comment = f"kdigital benchmark {tag}".encode()
    return jpeg[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + jpeg[2:]


def make_workspace(size: int, pool: list[bytes]) -> tuple[Path, list[Path]]:
    """A workspace whose roster has ``size`` municipalities and one 3-page scanned return from each."""
    import img2pdf

    from kdigital.inputs import load_inputs
    from kdigital.synthetic import grow_roster
    from kdigital.workspace import Workspace, init_workspace, shipped_workspace

    root = WORK / f"ws-{size}"
    shutil.rmtree(root, ignore_errors=True)
    ws = init_workspace(root, shipped_workspace())
    if size != 22:
        grow_roster(ws.roster, size)
    inputs = load_inputs(Workspace(root))
    returns = ws.inputs / "returns"
    returns.mkdir()
    files = []
    for i, m in enumerate(inputs.roster):
        pages = [unique(pool[(3 * i + k) % len(pool)], f"{m.ags}-{k}") for k in range(3)]
        path = returns / f"{inputs.campaign.identifier('IB', m.ags)}.pdf"
        path.write_bytes(img2pdf.convert(pages))
        files.append(path)
    return root, files


def run_size(size: int, pool: list[bytes], with_pypdf: bool) -> dict:
    root, files = make_workspace(size, pool)
    row = {"size": size, "pages": 3 * size, "input_mb": sum(f.stat().st_size for f in files) / 1e6,
           "largest_source_mb": max(f.stat().st_size for f in files) / 1e6}
    seconds, peak = measure([*KDIGITAL, "-w", str(root), "archive", "--silent"])
    (volume,) = (root / "outputs" / "archive").glob("*.pdf")
    row.update(kdigital_s=seconds, kdigital_peak_mb=peak, volume_mb=volume.stat().st_size / 1e6)
    out = WORK / f"qpdf-{size}.pdf"
    seconds, peak = measure(["qpdf", "--empty", "--pages", *map(str, files), "--", str(out)])
    row.update(qpdf_s=seconds, qpdf_peak_mb=peak, qpdf_mb=out.stat().st_size / 1e6)
    if with_pypdf:
        out = WORK / f"pypdf-{size}.pdf"
        seconds, peak = measure([sys.executable, "-c", PYPDF_MERGE, str(out), *map(str, files)])
        row.update(pypdf_s=seconds, pypdf_peak_mb=peak)
    baseline_s, baseline_mb = measure([sys.executable, "-c", "import pikepdf, pypdf, img2pdf, PIL.Image"])
    row["python_baseline_mb"] = baseline_mb
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="22,421", help="numbers of returns")
    parser.add_argument("--dpi", type=int, default=300, help="resolution of the scanned pages")
    parser.add_argument("--pypdf-up-to", type=int, default=100, help="also time pypdf up to this many returns")
    parser.add_argument("--smoke", action="store_true", help="small and fast for CI: 22 returns at 50 dpi")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.dpi = "22", 50
    if not shutil.which("qpdf"):
        raise SystemExit("qpdf fehlt: apt-get install -y qpdf")
    WORK.mkdir(parents=True, exist_ok=True)
    pool = page_pool(12, args.dpi)
    results = {"dpi": args.dpi, "sizes": []}
    for size in (int(s) for s in args.sizes.split(",") if s):
        row = run_size(size, pool, size <= args.pypdf_up_to)
        results["sizes"].append(row)
        print(json.dumps(row), file=sys.stderr)
        shutil.rmtree(WORK / f"ws-{size}", ignore_errors=True)
        for leftover in WORK.glob(f"*-{size}.pdf"):
            leftover.unlink()
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def report(results: dict) -> str:
    """The results as a Markdown table."""
    lines = [
        f"Scanned returns of 3 A4 pages at {results['dpi']} dpi; peak RSS of each process "
        f"(Python with pikepdf, pypdf, img2pdf and Pillow imported: "
        f"{results['sizes'][0]['python_baseline_mb']:.0f} MB).",
        "",
        "| returns | pages | input MB | largest source MB | kdigital archive s | peak MB | volume MB "
        "| qpdf --pages s | peak MB | output MB | pypdf PdfWriter s | peak MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["sizes"]:
        pypdf = [f"{r['pypdf_s']:.1f}", f"{r['pypdf_peak_mb']:.0f}"] if "pypdf_s" in r else ["–", "–"]
        lines.append("| " + " | ".join([
            f"{r['size']}", f"{r['pages']}", f"{r['input_mb']:.0f}", f"{r['largest_source_mb']:.1f}",
            f"{r['kdigital_s']:.1f}", f"{r['kdigital_peak_mb']:.0f}", f"{r['volume_mb']:.0f}",
            f"{r['qpdf_s']:.1f}", f"{r['qpdf_peak_mb']:.0f}", f"{r['qpdf_mb']:.0f}", *pypdf]) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
