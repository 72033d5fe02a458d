"""Rendering a batch of documents, spread over processes for large batches.

The records stay in the parent; worker processes are forked, so they inherit
the prepared template and the records without pickling either, render every
n-th record, write each document as soon as it is rendered, and report
progress. Memory stays flat: no process holds more than one document.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence, TypeVar

from kdigital.errors import KdigitalError

if TYPE_CHECKING:  # the renderer pulls in docxtpl and lxml; Progress users need neither
    from kdigital.render import DocumentTemplate

T = TypeVar("T")
# record -> (file name, context, core properties of the document)
Job = Callable[[T], tuple[str, Mapping[str, Any], Mapping[str, str]]]

# Below this many documents, one process is faster than starting workers.
PARALLEL_THRESHOLD = 100
_REPORT_EVERY = 16
_WATCH_INTERVAL = 0.5  # seconds between checks that the workers are still alive


class Progress:
    """Receives progress of long work; the CLI shows it as a bar. This base shows nothing."""

    def start(self, label: str, total: int) -> None:
        """Work on ``total`` items called ``label`` begins."""

    def advance(self, n: int) -> None:
        """``n`` more items are done."""

    def finish(self) -> None:
        """The work begun with ``start`` has ended."""


class RenderError(KdigitalError):
    """A document of the batch could not be rendered."""


def default_workers() -> int:
    """Worker processes for a large batch: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def render_batch(
    template: DocumentTemplate,
    records: Sequence[T],
    job: Job,
    outdir: Path,
    *,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, str]:
    """Render ``job(record)`` for every record with ``template`` into files in ``outdir``.

    Returns the SHA-256 of every file written (file name -> hex digest), for the ledger.
    """
    workers = workers or default_workers()
    if workers <= 1 or len(records) < PARALLEL_THRESHOLD or "fork" not in multiprocessing.get_all_start_methods():
        hashes: dict[str, str] = {}
        _render_slice(template, records, job, outdir, 0, 1, lambda done: _report(done, hashes, progress))
        return hashes
    ctx = multiprocessing.get_context("fork")
    queue = ctx.SimpleQueue()
    procs = [ctx.Process(target=_worker, args=(template, records, job, outdir, k, workers, queue), daemon=True)
             for k in range(workers)]
    for p in procs:
        p.start()
    running = workers
    error = None
    hashes = {}
    try:
        while running:
            if not queue._reader.poll(_WATCH_INTERVAL):
                # a worker killed from outside (out of memory) never says "done": do not wait forever
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead and not queue._reader.poll(0):
                    error = (f"Ein Arbeitsprozess ist abgebrochen (Exit-Code {dead[0].exitcode}, z. B. zu wenig "
                             "Arbeitsspeicher); nichts veröffentlicht – mit -j 1 erneut versuchen")
                    break
                continue
            kind, value = queue.get()
            if kind == "n":
                _report(value, hashes, progress)
            elif kind == "done":
                running -= 1
            else:
                error = value
                break
    finally:
        if error is not None or running:
            for p in procs:
                p.terminate()
        for p in procs:
            p.join()
    if error is not None:
        raise RenderError(error)
    return hashes


def _report(done: list[tuple[str, str]], hashes: dict[str, str], progress) -> None:
    hashes.update(done)
    if progress:
        progress(len(done))


def _render_slice(template, records, job, outdir: Path, start: int, step: int, report) -> None:
    done: list[tuple[str, str]] = []
    for record in records[start::step]:
        name, context, properties = job(record)
        data = template.render(context, properties)
        with open(outdir / name, "wb") as fh:
            fh.write(data)
        done.append((name, hashlib.sha256(data).hexdigest()))
        if len(done) >= _REPORT_EVERY:
            report(done)
            done = []
    if done:
        report(done)


def _worker(template, records, job, outdir, start, step, queue) -> None:
    try:
        _render_slice(template, records, job, outdir, start, step, lambda done: queue.put(("n", done)))
        queue.put(("done", None))
    except BaseException as exc:  # report everything; the parent decides
        detail = str(exc) if isinstance(exc, KdigitalError) else "".join(traceback.format_exception(exc))
        queue.put(("error", f"Fehler beim Erzeugen eines Dokuments: {detail}"))
