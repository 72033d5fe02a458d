"""The fast renderer against plain docxtpl: same content, part by part."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pytest
from docxtpl import RichText
from lxml import etree

from kdigital.errors import TemplateError
from kdigital.inputs import load_inputs
from kdigital.letters import TEMPLATE, LetterJob
from kdigital.costs import letter_rates
from kdigital.render import DocumentTemplate, render_naive


def canonical_parts(data: bytes) -> dict[str, bytes]:
    """Every XML part in canonical form (C14N); relationship and content-type lists sorted."""
    result = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        for name in archive.namelist():
            raw = archive.read(name)
            if not (name.endswith(".xml") or name.endswith(".rels")):
                result[name] = raw
                continue
            root = etree.fromstring(raw)
            if name.endswith(".rels") or name == "[Content_Types].xml":
                root[:] = sorted(root, key=lambda e: etree.tostring(e))
            result[name] = etree.tostring(root, method="c14n")
    return result


def assert_same_content(fast: bytes, naive: bytes) -> None:
    a, b = canonical_parts(fast), canonical_parts(naive)
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name] == b[name], f"part {name} differs"


def letter_contexts(ws, count=3):
    inputs = load_inputs(ws)
    job = LetterJob(inputs.campaign, letter_rates(inputs.cost_model, inputs.roster))
    return [job(m)[1] for m in inputs.roster[:count]] + [job(m)[1] for m in inputs.roster if m.ags == "06534014"]


def test_letter_fast_route_equals_docxtpl(workspace):
    path = workspace.template(TEMPLATE)
    template = DocumentTemplate(path)
    for context in letter_contexts(workspace):
        assert_same_content(template.render(context), render_naive(path, context))


def build_special_template(path: Path) -> None:
    """A template using {%tr %}, {%p %}, {%r %}/RichText, listing characters, header and core properties."""
    d = docx.Document()
    d.core_properties.title = "Liste {{ titel }}"
    d.sections[0].header.paragraphs[0].text = "Kopf: {{ titel }}"
    d.add_paragraph("Titel: {{ titel }}")
    d.add_paragraph("{%p if zeigen %}")
    d.add_paragraph("Nur wenn gezeigt: {{ titel }}")
    d.add_paragraph("{%p endif %}")
    d.add_paragraph("Mehrzeilig: {{ mehrzeilig }}")
    d.add_paragraph("Formatiert: {{r fett }}")
    table = d.add_table(rows=4, cols=2)
    table.rows[0].cells[0].text = "Name"
    table.rows[0].cells[1].text = "Betrag"
    table.rows[1].cells[0].text = "{%tr for posten in posten %}"
    table.rows[2].cells[0].text = "{{ posten.name }}"
    table.rows[2].cells[1].text = "{{ posten.betrag }}"
    table.rows[3].cells[0].text = "{%tr endfor %}"
    d.add_paragraph("Ende")
    d.save(path)


@pytest.mark.parametrize("zeigen", [True, False])
def test_special_tags_fast_route_equals_docxtpl(tmp_path, zeigen):
    path = tmp_path / "special.docx"
    build_special_template(path)
    context = {
        "titel": "Kosten & <Anteile> „2022“",
        "zeigen": zeigen,
        "mehrzeilig": "erste Zeile\nzweite Zeile\tmit Tab",
        "fett": RichText("fett & rot", bold=True, color="FF0000"),
        "posten": [{"name": f"Posten {i}", "betrag": f"{i},00 €"} for i in range(5)],
    }
    fast = DocumentTemplate(path).render(context)
    assert_same_content(fast, render_naive(path, context))
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(fast)).paragraphs)
    assert ("Nur wenn gezeigt" in text) is zeigen
    rows = docx.Document(io.BytesIO(fast)).tables[0].rows
    assert [r.cells[0].text for r in rows] == ["Name"] + [f"Posten {i}" for i in range(5)]


def test_render_is_deterministic(workspace):
    template = DocumentTemplate(workspace.template(TEMPLATE))
    context = letter_contexts(workspace, 1)[0]
    first = template.render(context)
    assert DocumentTemplate(workspace.template(TEMPLATE)).render(context) == first


def test_syntax_error_names_template_and_tag(tmp_path):
    d = docx.Document()
    d.add_paragraph("Hallo {{ kommune.name }")
    path = tmp_path / "kaputt.docx"
    d.save(path)
    with pytest.raises(TemplateError) as info:
        DocumentTemplate(path)
    message = str(info.value)
    assert "kaputt.docx" in message and "Textkörper" in message and "{{ kommune.name }" in message


def test_unknown_placeholder_is_named_with_suggestion(tmp_path):
    d = docx.Document()
    d.add_paragraph("{{ kommune.nmae }} und {{ kennung }}")
    d.sections[0].footer.paragraphs[0].text = "{{ kampange.id }}"
    path = tmp_path / "tippfehler.docx"
    d.save(path)
    findings = DocumentTemplate(path).unknown_placeholders({"kommune": {"name": "x"}, "kennung": "k", "kampagne": {"id": 1}})
    messages = [f.message for f in findings]
    assert len(messages) == 2
    assert any("{{ kommune.nmae }}" in m and "{{ kommune.name }}" in m for m in messages)
    assert any("Fußzeile" in m and "{{ kampange.id }}" in m for m in messages)


def test_damaged_template_is_a_template_error(tmp_path):
    path = tmp_path / "kaputt.docx"
    path.write_bytes(b"kein zip")
    with pytest.raises(TemplateError, match="kaputt.docx"):
        DocumentTemplate(path)


def png(width: int = 40, height: int = 20, shade: int = 0) -> bytes:
    """A small real PNG, grey level ``shade``."""
    import struct
    import zlib

    raw = b"".join(b"\x00" + bytes([shade]) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def test_images_fast_route_equals_docxtpl_inline_image(tmp_path):
    from kdigital.render import Image

    d = docx.Document()
    d.add_paragraph("Diagramm:")
    d.add_paragraph("{{ bild }}")
    d.add_paragraph("Zweites: {{ zweites }} Ende")
    path = tmp_path / "bild.docx"
    d.save(path)
    template = DocumentTemplate(path)
    for shade in (0, 200):
        context = {"bild": Image(png(shade=shade), 120), "zweites": Image(png(80, 20, shade=99), 50)}
        fast = template.render(context)
        assert_same_content(fast, render_naive(path, context))
        document = docx.Document(io.BytesIO(fast))
        assert len(document.inline_shapes) == 2
        assert document.inline_shapes[0].width == docx.shared.Mm(120)
    # A document without images keeps the template's relationships.
    d2 = DocumentTemplate(path)
    assert_same_content(d2.render({"bild": "", "zweites": ""}), render_naive(path, {"bild": "", "zweites": ""}))


def test_misspelt_field_inside_a_loop_is_found(tmp_path):
    d = docx.Document()
    d.add_paragraph("{%p for b in beteiligte %}")
    d.add_paragraph("{{ b.bezeichnung }}: {{ b.anteill }}")
    d.add_paragraph("{%p endfor %}")
    path = tmp_path / "schleife.docx"
    d.save(path)
    findings = DocumentTemplate(path).unknown_placeholders({"beteiligte": [{"bezeichnung": "x", "anteil": "1 %"}]})
    assert [f.message for f in findings] == [
        "Textkörper: Platzhalter {{ b.anteill }} (in der Schleife über beteiligte) ist unbekannt "
        "– gemeint ist wohl {{ b.anteil }}"]


def _structure_template(path: Path, kind: str) -> None:
    """Templates whose structure allows, or forbids, skipping docxtpl's body re-parse."""
    d = docx.Document()
    d.add_paragraph("Titel: {{ titel }}")
    if kind == "balanced":  # blocks open and close in one paragraph or around whole paragraphs
        d.add_paragraph("{%p if zeigen %}")
        d.add_paragraph("Gezeigt: {{ titel }}{% if zeigen %} und mehr{% endif %}")
        d.add_paragraph("{%p endif %}")
        table = d.add_table(rows=1, cols=2)
        table.rows[0].cells[0].text = "{% for i in [1, 2] %}{{ i }} {% endfor %}"
        table.rows[0].cells[1].text = "{{ titel }}"
    elif kind == "across-paragraphs":  # an if in one paragraph, its endif in the next: same path
        d.add_paragraph("Anfang {% if zeigen %}gezeigt")
        d.add_paragraph("noch gezeigt{% endif %} Ende")
    elif kind == "across-runs":  # Word splits text into runs; a loop over lines with breaks
        paragraph = d.add_paragraph("Zeilen: {% for z in zeilen %}{{ z }}\n{% endfor %}")
        paragraph.add_run("{% if zeigen %}fett{% endif %}").bold = True
        paragraph.add_run(" normal {% if zeigen %}")
        paragraph.add_run("kursiv{% endif %}").italic = True
    elif kind == "whole-table":  # a block around a whole table repeats or drops the table
        d.add_paragraph("{%p for z in zeilen %}")
        table = d.add_table(rows=2, cols=2)
        table.rows[0].cells[0].text = "{{ z }}"
        table.rows[1].cells[1].text = "{{ titel }}"
        d.add_paragraph("{%p endfor %}")
    elif kind == "from-paragraph-into-cell":  # an if before a table, its endif in a cell
        d.add_paragraph("{% if zeigen %}vorher")
        table = d.add_table(rows=1, cols=2)
        table.rows[0].cells[0].text = "{% endif %}a"
    elif kind == "plus-tags":  # the same with whitespace-keeping tags
        d.add_paragraph("{%+ if zeigen %}vorher")
        table = d.add_table(rows=1, cols=2)
        table.rows[0].cells[0].text = "{%+ endif %}a"
    elif kind == "safe-filter":  # a value that brings its own markup
        d.add_paragraph("Roh: {{ titel|safe }}")
    elif kind == "across-cells":  # an if in one cell, its endif in the next: removes a cell
        table = d.add_table(rows=2, cols=3)
        table.rows[0].cells[0].text = "a {% if zeigen %}"
        table.rows[0].cells[1].text = "b"
        table.rows[0].cells[2].text = "{% endif %} c"
        table.rows[1].cells[0].text = "{{ titel }}"
    elif kind == "cell-tag":  # {%tc %} takes a cell away
        table = d.add_table(rows=1, cols=5)
        for cell, text in zip(table.rows[0].cells, ["a", "{%tc if zeigen %}", "b", "{%tc endif %}", "c"]):
            cell.text = text
    d.add_paragraph("Ende")
    d.save(path)


@pytest.mark.parametrize("kind, light", [("balanced", True), ("across-paragraphs", True), ("across-runs", True),
                                         ("whole-table", True), ("across-cells", False), ("cell-tag", False),
                                         ("from-paragraph-into-cell", False), ("plus-tags", False),
                                         ("safe-filter", False)])
@pytest.mark.parametrize("zeigen", [True, False])
def test_skipping_the_body_reparse_keeps_the_output_of_docxtpl(tmp_path, kind, light, zeigen):
    path = tmp_path / f"{kind}.docx"
    _structure_template(path, kind)
    template = DocumentTemplate(path)
    assert template._light_repair is light
    titel = "A &amp; B" if kind == "safe-filter" else "A & <B>"
    context = {"titel": titel, "zeigen": zeigen, "zeilen": ["eins", "zwei & drei"] if zeigen else []}
    assert_same_content(template.render(context), render_naive(path, context))


def test_shipped_letter_and_forms_skip_the_reparse_and_tables_with_row_tags_do_not(workspace):
    light = {name: DocumentTemplate(workspace.template(name))._light_repair
             for name in ("interessensbekundung.docx", "erinnerung.docx", "vereinbarung_unterschrift.docx",
                          "kostenblatt.docx", "vereinbarung.docx")}
    assert light == {"interessensbekundung.docx": True, "erinnerung.docx": True,
                     "vereinbarung_unterschrift.docx": True, "kostenblatt.docx": False, "vereinbarung.docx": False}


def test_a_control_character_in_a_value_is_dropped_not_written(tmp_path):
    # XML forbids it; docxtpl's recovering parser mangles the text around it, the shortcut drops it alone
    path = tmp_path / "steuerzeichen.docx"
    _structure_template(path, "balanced")
    template = DocumentTemplate(path)
    assert template._light_repair
    data = template.render({"titel": "A & <B>\x0bC\x01", "zeigen": True, "zeilen": []})
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        root = etree.fromstring(archive.read("word/document.xml"))  # well-formed
    text = "".join(root.itertext())
    assert "Titel: A & <B>C" in text
