"""The PDF step every document stage shares: convert staged .docx files and check each PDF."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from kdigital.batch import Progress


def convert_and_check(folder: Path, expected: dict[str, tuple[str, int | None]], progress: Progress,
                      workers: int | None = None) -> tuple[list[str], dict[str, str]]:
    """Convert the .docx files ``expected`` names (relative to ``folder``) to PDF beside them.

    ``expected`` maps each name to (text the PDF must contain, page count or None).
    Returns the relative names of the PDFs that passed their check, and the
    failures (docx name -> reason); a PDF that fails its check is removed.
    """
    from kdigital.soffice import check_pdf, convert_to_pdf

    by_folder: dict[Path, list[str]] = defaultdict(list)
    for name in expected:
        by_folder[Path(name).parent].append(name)
    good: list[str] = []
    failures: dict[str, str] = {}
    progress.start("PDF", len(expected))
    try:
        for sub, names in by_folder.items():
            sources = {folder / n: n for n in names}
            problems: dict[Path, str | None] = {}

            def check(source: Path, target: Path) -> None:
                # runs as each PDF arrives, while LibreOffice converts the next ones
                text, pages = expected[sources[source]]
                problems[source] = check_pdf(target, pages=pages, contains=text)

            result = convert_to_pdf(list(sources), folder / sub, workers=workers, progress=progress.advance,
                                    on_converted=check)
            for source, reason in result.failed.items():
                failures[sources[source]] = reason
            for source, target in result.converted.items():
                if source not in problems:
                    check(source, target)
                problem = problems[source]
                if problem:
                    failures[sources[source]] = problem
                    target.unlink()
                else:
                    good.append(str(sub / target.name) if str(sub) != "." else target.name)
    finally:
        progress.finish()
    return good, failures


def identifier_of(docx: Path) -> str | None:
    """The document identifier kdigital put first into the keywords of a .docx, if any."""
    import re
    import zipfile

    try:
        with zipfile.ZipFile(docx) as archive:
            core = archive.read("docProps/core.xml").decode("utf-8")
    except (OSError, KeyError, zipfile.BadZipFile):
        return None
    match = re.search(r"<cp:keywords>([A-Za-z0-9]+(?:-[A-Za-z0-9]+)*-[A-Z]{2}-\d{8})", core)
    return match.group(1) if match else None


def convert_files(paths: list[Path], progress: Progress, workers: int | None = None) -> tuple[list[Path], dict[str, str]]:
    """Convert .docx files to PDF beside them (``kdigital pdf``); checked like the stages' PDFs."""
    by_folder: dict[Path, dict[str, tuple[str | None, None]]] = defaultdict(dict)
    for path in paths:
        by_folder[path.parent][path.name] = (identifier_of(path), None)
    good: list[Path] = []
    failures: dict[str, str] = {}
    for folder, expected in by_folder.items():
        names, failed = convert_and_check(folder, expected, progress, workers)
        good += [folder / n for n in names]
        failures.update({str(folder / n): reason for n, reason in failed.items()})
    return good, failures
