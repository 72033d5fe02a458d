"""Writing outputs atomically: into a hidden staging folder, then published by rename."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Collection, Iterable, Sequence


class Staging:
    """A temporary folder beside ``target`` whose files replace those of ``target`` on publish.

    Used as a context manager: leaving it with an exception (or without publish)
    removes the staging folder, so a failed or interrupted run leaves no
    half-written document behind. Each file is published with ``os.replace``,
    which is atomic within one file system.
    """

    def __init__(self, target: Path):
        self.target = target
        target.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))

    def __enter__(self) -> "Staging":
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def publish(self, names: list[str] | None = None) -> list[Path]:
        """Move the staged files (``names`` in that order, default all) into ``target``."""
        self.target.mkdir(parents=True, exist_ok=True)
        names = names if names is not None else sorted(p.name for p in self.path.iterdir())
        published = []
        for name in names:
            destination = self.target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.path / name, destination)
            published.append(destination)
        return published


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _default_mode()


@contextlib.contextmanager
def atomic_file(path: Path):
    """An open binary file that replaces ``path`` by rename once the block ends without error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.chmod(tmp, _FILE_MODE)  # mkstemp makes 0600; outputs are for the office, like any new file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    with atomic_file(path) as fh:
        fh.write(data)


# A per-municipality document of a stage: <AGS>_<slug>.docx / .pdf, or its e-mail draft.
_DOCUMENT = re.compile(r"^(\d{8})_[^/]*\.(docx|pdf|eml)$")


def prune(folder: Path, written: Iterable[Path], ags: Collection[str] | None, *,
          subfolders: Sequence[str] = ("",)) -> list[Path]:
    """Remove the per-municipality documents of earlier runs that this run replaced; the removed paths.

    A run owns the files ``<AGS>_<slug>.docx|pdf|eml`` in ``folder`` (and its
    ``subfolders``) of the municipalities it wrote for (``ags``; None: all). What
    it did not write there is out of date – a letter of a renamed municipality,
    a PDF or draft of a letter just rewritten without PDFs – and would otherwise
    be printed or sent. Other files are never touched.
    """
    keep = {os.path.normpath(os.path.abspath(p)) for p in written}
    removed = []
    for sub in subfolders:
        directory = folder / sub if sub else folder
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            match = _DOCUMENT.match(path.name)
            if (match is None or (ags is not None and match[1] not in ags)
                    or os.path.normpath(os.path.abspath(path)) in keep or not path.is_file()):
                continue
            path.unlink()
            removed.append(path)
    return removed
