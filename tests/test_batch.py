"""Batches in forked workers: a worker that dies is reported, never waited for."""

from __future__ import annotations

import os

import docx
import pytest

from kdigital.batch import RenderError, render_batch
from kdigital.render import DocumentTemplate


def test_a_worker_killed_from_outside_stops_the_batch_with_a_message(tmp_path):
    path = tmp_path / "t.docx"
    d = docx.Document()
    d.add_paragraph("Hallo {{ name }}")
    d.save(path)
    template = DocumentTemplate(path)
    out = tmp_path / "out"
    out.mkdir()

    def job(n: int):
        if n == 57:
            os._exit(9)  # as the kernel's out-of-memory killer would end it: no word to the parent
        return f"{n:03}.docx", {"name": str(n)}, {}

    with pytest.raises(RenderError, match="Arbeitsprozess ist abgebrochen"):
        render_batch(template, list(range(120)), job, out, workers=2)


def test_a_batch_over_workers_writes_every_document(tmp_path):
    path = tmp_path / "t.docx"
    d = docx.Document()
    d.add_paragraph("Hallo {{ name }}")
    d.save(path)
    out = tmp_path / "out"
    out.mkdir()
    hashes = render_batch(DocumentTemplate(path), list(range(120)),
                          lambda n: (f"{n:03}.docx", {"name": str(n)}, {}), out, workers=2)
    assert sorted(hashes) == [f"{n:03}.docx" for n in range(120)] == sorted(p.name for p in out.iterdir())
