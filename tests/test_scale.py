"""A large roster: every letter written, valid and uniquely named, in parallel."""

from __future__ import annotations

import zipfile

import docx
from lxml import etree

from kdigital.letters import make_letters
from kdigital.synthetic import grow_roster


def test_thousand_municipalities_render_valid_and_unique(workspace):
    grow_roster(workspace.roster, 1000)
    run = make_letters(workspace, workers=2)
    names = [p.name for p in run.documents]
    assert len(names) == len(set(names)) == 1000
    on_disk = sorted(p.name for p in (workspace.outputs / "letters").iterdir())
    assert on_disk == sorted(names)
    assert "99000022_amoeneburg-22-stadt.docx" in names  # "Amöneburg 22, Stadt"
    assert "99000023_angelburg-23-hessen.docx" in names  # "Angelburg 23 (Hessen)"
    assert "99000024_bad-endbach-24-lahn.docx" in names  # "Bad Endbach 24/Lahn"
    assert "99000025_gross-biedenkopf-25.docx" in names  # "Groß-Biedenkopf 25"
    assert "99000027_ueber-coelbe-27.docx" in names  # "Über-Cölbe 27"
    for path in run.documents:
        assert all(c.isascii() and (c.isalnum() or c in "-_.") for c in path.name)
        with zipfile.ZipFile(path) as archive:
            assert archive.testzip() is None
            etree.fromstring(archive.read("word/document.xml"))
    sample = docx.Document(run.documents[-1])
    assert any("KD-2022-IB-99000999" in c.text for t in sample.tables for r in t.rows for c in r.cells)
