"""Word templates: template + context -> document bytes.

Every document kind renders through ``DocumentTemplate``. It does docxtpl's
work, split so that a batch pays for the expensive half once:

* ``DocumentTemplate.load`` (once per run): read the .docx, let docxtpl clean
  the XML of the body, headers, footers and footnotes (``patch_xml``), compile
  each part that holds tags into a Jinja template, and deflate every member
  that no tag can change.
* ``DocumentTemplate.render`` (per document): render only the tagged parts,
  apply docxtpl's post-processing (listing characters, table grid repair,
  drawing ids) and assemble the ZIP from the precompressed members.

The result has the same content, part by part, as ``render_naive`` (the plain
docxtpl route, kept for tests and benchmarks); ``tests/test_render.py`` checks
that. Rendering uses Jinja's StrictUndefined and autoescaping, so a missing value
fails instead of printing nothing, and ``&``, ``<`` and quotes stay valid XML.
"""

from __future__ import annotations

import difflib
import functools
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import jinja2
from jinja2 import meta, nodes
from lxml import etree

from kdigital import zipwriter
from kdigital.errors import Finding, TemplateError

XML_DECLARATION = "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
HEADER_RELTYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/header"
FOOTER_RELTYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/footer"
CORE_TYPE = "application/vnd.openxmlformats-package.core-properties+xml"
FOOTNOTES_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"
CORE_PROPERTIES = ("author", "comments", "identifier", "language", "subject", "title")  # as docxtpl renders them
_TAG = re.compile(r"\{\{|\{%|\{#")
# docxtpl turns these characters into breaks, tabs and paragraphs, but only inside text
# elements: pictures' XML holds newlines too, and must not trigger the (costly) pass.
_LISTING = re.compile(r"<w:t(?: [^>]*)?>[^<]*[\n\t\a\f]")
# XML element tags and Jinja statements of a patched part, for the structure check below.
_STRUCTURE = re.compile(r"<(/?)([A-Za-z][\w.:-]*)[^>]*?(/?)>|\{%[-+]?\s*(\w+)([^%]*)")
# Characters XML 1.0 forbids; docxtpl's recovering parser drops them, the shortcut must too.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# |safe and Markup-producing filters let a value bring its own markup: only the full repair copes.
_RAW_MARKUP = re.compile(r"\|\s*(?:safe|markup)\b")
_BLOCK_OPEN = {"if", "for", "macro", "call", "filter", "with", "block", "raw", "autoescape", "trans"}
_BLOCK_MIDDLE = {"elif", "else", "pluralize"}
_TABLE_SHAPE = {"w:tbl", "w:tr", "w:tc", "w:tblGrid", "w:gridCol"}
_DOCPR = re.compile(r'(<wp:docPr\b[^>]*?\sid=")\d+(")')
WP_NAMESPACE = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"


IMAGE_RELTYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/image"
DOCUMENT_RELS = "word/_rels/document.xml.rels"
CONTENT_TYPES = "[Content_Types].xml"
# Parts rendered per document are deflated at level 1: a third of the time of level 6 for
# about 1 KB more per letter. Unchanged members are deflated once, at the default level.
RENDERED_LEVEL = 1


@dataclass(frozen=True)
class Image:
    """A picture for a ``{{ placeholder }}`` in the body: PNG or JPEG bytes, width in mm.

    The fast route's counterpart of docxtpl's InlineImage (which needs a live
    DocxTemplate); the XML it produces is the same.
    """

    data: bytes
    width_mm: float

    def __html__(self) -> str:
        if _images is None:
            raise RuntimeError("Image can only be rendered by DocumentTemplate.render")
        return _images.add(self)


class _ImageSink:
    """Collects the images of one document while its body renders, as python-docx would add them."""

    def __init__(self, used_ids: set[str], used_media: set[str]):
        self.used_ids = used_ids
        self.used_media = used_media
        self.added: list[tuple[str, str, bytes]] = []  # (rId, member, data)

    def add(self, image: Image) -> str:
        from docx.image.image import Image as DocxImage
        from docx.shared import Mm

        info = DocxImage.from_blob(image.data)
        rid = next(f"rId{n}" for n in range(1, len(self.used_ids) + 2) if f"rId{n}" not in self.used_ids)
        media = next(f"word/media/image{n}.{info.ext}" for n in range(1, len(self.used_media) + 2)
                     if f"word/media/image{n}.{info.ext}" not in self.used_media)
        self.used_ids.add(rid)
        self.used_media.add(media)
        self.added.append((rid, media, image.data))
        cx, cy = info.scaled_dimensions(Mm(image.width_mm), None)
        pic = _pic_inline(rid, info.filename, cx, cy)
        return f'</w:t></w:r><w:r><w:drawing>{pic}</w:drawing></w:r><w:r><w:t xml:space="preserve">'


_images: _ImageSink | None = None


@functools.lru_cache(maxsize=64)
def _pic_inline(rid: str, filename: str, cx: int, cy: int) -> str:
    # The same picture frame for every QR code of a batch: python-docx builds it once.
    from docx.oxml.shape import CT_Inline

    return CT_Inline.new_pic_inline(1, rid, filename, cx, cy).xml


def make_environment() -> jinja2.Environment:
    """The Jinja environment of every template: strict about missing values, XML-escaping."""
    return jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=True)


@dataclass
class _Part:
    """A tagged part: its member name, compiled template and the text around what is rendered."""

    member: str
    label: str  # for messages: 'Textkörper', 'Kopfzeile (word/header1.xml)'
    source: str  # the patched XML that Jinja compiles
    template: jinja2.Template
    prefix: str = ""
    suffix: str = ""
    body: bool = False  # the main body needs docxtpl's table and drawing repairs


class DocumentTemplate:
    """A Word template prepared once for rendering many documents."""

    def __init__(self, path: Path, data: bytes | None = None):
        from docxtpl import DocxTemplate

        self.path = Path(path)
        self.name = self.path.name
        if data is None:
            try:
                data = self.path.read_bytes()
            except FileNotFoundError as exc:
                raise TemplateError([Finding(self.name, f"Vorlage nicht gefunden: {self.path}")],
                                    f"Vorlage {self.name} fehlt") from exc
            except OSError as exc:
                raise TemplateError([Finding(self.name, f"Vorlage nicht lesbar: {self.path} ({exc.strerror})")],
                                    f"Vorlage {self.name} ist nicht lesbar") from exc
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            self._tpl = DocxTemplate(io.BytesIO(data))
            self._tpl.init_docx()
        except Exception as exc:  # python-docx raises several kinds for a damaged package
            raise TemplateError([Finding(self.name, f"keine gültige Word-Datei (.docx): {exc}")],
                                f"Vorlage {self.name} ist beschädigt") from exc
        self.environment = make_environment()
        findings: list[Finding] = []
        self._parts: list[_Part] = []
        self._static: dict[str, bytes] = {name: archive.read(name) for name in archive.namelist()}
        self._order = archive.namelist()
        self._prepare_body(findings)
        self._prepare_headers_footers(findings)
        self._prepare_footnotes(findings)
        self._prepare_core_properties(findings)
        if findings:
            raise TemplateError(findings, f"{len(findings)} Fehler in der Vorlage {self.name}")
        rels = etree.fromstring(self._static[DOCUMENT_RELS])
        self._rel_ids = {r.get("Id") for r in rels}
        self._media = {n for n in self._order if n.startswith("word/media/")}
        self._defaults = {d.get("Extension").lower() for d in etree.fromstring(self._static[CONTENT_TYPES])
                          if d.tag.endswith("Default")}
        dynamic = {p.member for p in self._parts}
        self._members = {
            name: zipwriter.Member.prepare(name, self._static[name])
            for name in self._order if name not in dynamic
        }

    # -- preparation ---------------------------------------------------------------

    def _compile(self, member: str, label: str, src: str, findings: list[Finding]) -> jinja2.Template | None:
        try:
            return self.environment.from_string(src)
        except jinja2.TemplateSyntaxError as exc:
            findings.append(Finding(self.name, f"{label}: Jinja-Syntaxfehler „{exc.message}“ bei „{_tag_context(src, exc.lineno)}“"))
        except jinja2.TemplateError as exc:
            findings.append(Finding(self.name, f"{label}: Fehler in der Vorlage: {exc}"))
        return None

    def _add_part(self, member: str, label: str, xml: str, findings: list[Finding], **kwargs) -> None:
        source = re.sub(r"<w:p([ >])", r"\n<w:p\1", self._tpl.patch_xml(xml))
        template = self._compile(member, label, source, findings)
        if template is not None:
            self._parts.append(_Part(member, label, source, template, **kwargs))

    def _prepare_body(self, findings: list[Finding]) -> None:
        docx = self._tpl.docx
        member = docx.part.partname.lstrip("/")
        document = etree.tostring(docx.element, encoding="unicode")
        start = document.index("<w:body")
        end = document.rindex("</w:body>") + len("</w:body>")
        self._add_part(member, "Textkörper", self._tpl.get_xml(), findings,
                       prefix=XML_DECLARATION + document[:start], suffix=document[end:], body=True)
        body = next((p for p in self._parts if p.body), None)
        self._light_repair = body is not None and _repair_is_renumbering(self._tpl, body.source)

    def _prepare_headers_footers(self, findings: list[Finding]) -> None:
        for reltype, word in ((HEADER_RELTYPE, "Kopfzeile"), (FOOTER_RELTYPE, "Fußzeile")):
            for _, part in self._tpl.get_headers_footers(reltype):
                xml = self._tpl.get_part_xml(part)
                if not _TAG.search(xml):
                    continue
                member = part.partname.lstrip("/")
                self._add_part(member, f"{word} ({member})", xml, findings, prefix=XML_DECLARATION)

    def _prepare_footnotes(self, findings: list[Finding]) -> None:
        for part in self._tpl.docx.part.package.parts:
            if part.content_type == FOOTNOTES_TYPE:
                blob = part.blob.decode("utf-8") if isinstance(part.blob, bytes) else part.blob
                if _TAG.search(blob):
                    member = part.partname.lstrip("/")
                    self._add_part(member, f"Fußnoten ({member})", blob, findings)

    def _prepare_core_properties(self, findings: list[Finding]) -> None:
        # docxtpl renders these properties and rewrites core.xml; do the same, once if constant.
        self._core_templates: dict[str, jinja2.Template] = {}
        self._core_member = next((p.partname.lstrip("/") for p in self._tpl.docx.part.package.parts
                                  if p.content_type == CORE_TYPE), None)
        if self._core_member is None:
            return
        props = self._tpl.docx.core_properties
        self._core_constants = {prop: getattr(props, prop) for prop in CORE_PROPERTIES}
        for prop in CORE_PROPERTIES:
            value = getattr(props, prop)
            if _TAG.search(value):
                template = self._compile(self._core_member, f"Dokumenteigenschaft {prop}", value, findings)
                if template is not None:
                    self._core_templates[prop] = template
                    del self._core_constants[prop]
        if not self._core_templates:
            for prop, value in self._core_constants.items():
                setattr(props, prop, value)
            self._static[self._core_member] = _serialize(props._element)

    # -- rendering -------------------------------------------------------------------

    def render(self, context: Mapping[str, Any], properties: Mapping[str, str] | None = None) -> bytes:
        """The .docx bytes of this template rendered with ``context``.

        ``properties`` (title, subject, keywords, author, …) overwrite the document's core
        properties, so that a PDF converted from it carries them in its info dictionary
        and XMP metadata alike.
        """
        global _images
        rendered: dict[str, zipwriter.Member] = {}
        sink = _images = _ImageSink(set(self._rel_ids), set(self._media))
        try:
            for part in self._parts:
                xml = _postprocess(self._tpl, part.template.render(context))
                if part.body:
                    xml = self._repair_body(xml)
                rendered[part.member] = zipwriter.Member.prepare(
                    part.member, (part.prefix + xml + part.suffix).encode("utf-8"), level=RENDERED_LEVEL)
        finally:
            _images = None
        extra: list[zipwriter.Member] = []
        if sink.added:
            extra = self._add_images(sink, rendered)
        if self._core_member and (self._core_templates or properties):
            props = self._tpl.docx.core_properties
            for prop, value in self._core_constants.items():
                setattr(props, prop, value)
            for prop, template in self._core_templates.items():
                setattr(props, prop, template.render(context))
            for prop, value in (properties or {}).items():
                setattr(props, prop, value)
            rendered[self._core_member] = zipwriter.Member.prepare(self._core_member, _serialize(props._element),
                                                                   level=RENDERED_LEVEL)
        return zipwriter.build([rendered.get(name) or self._members[name] for name in self._order] + extra)

    def _add_images(self, sink: _ImageSink, rendered: dict[str, zipwriter.Member]) -> list[zipwriter.Member]:
        # Relationship and content type of each new image, as python-docx writes them on save.
        rels = self._static[DOCUMENT_RELS].decode("utf-8")
        entries = "".join(f'<Relationship Id="{rid}" Type="{IMAGE_RELTYPE}" Target="{media[len("word/"):]}"/>'
                          for rid, media, _ in sink.added)
        rels = rels.replace("</Relationships>", entries + "</Relationships>")
        rendered[DOCUMENT_RELS] = zipwriter.Member.prepare(DOCUMENT_RELS, rels.encode("utf-8"), level=RENDERED_LEVEL)
        missing = frozenset({media.rsplit(".", 1)[1] for _, media, _ in sink.added} - self._defaults)
        if missing:
            rendered[CONTENT_TYPES] = self._content_types(missing)
        return [zipwriter.Member.prepare(media, data, level=0) for _, media, data in sink.added]

    @functools.lru_cache(maxsize=8)
    def _content_types(self, extensions: frozenset[str]) -> zipwriter.Member:
        # The same few image types in every document of a batch: build each variant once.
        defaults = "".join(f'<Default Extension="{ext}" ContentType="image/{"jpeg" if ext == "jpg" else ext}"/>'
                           for ext in sorted(extensions))
        types = self._static[CONTENT_TYPES].decode("utf-8").replace("</Types>", defaults + "</Types>")
        return zipwriter.Member.prepare(CONTENT_TYPES, types.encode("utf-8"))

    def _repair_body(self, xml: str) -> str:
        # docxtpl re-parses the body (recovering broken markup), repairs table grids
        # and renumbers drawing ids; the same steps keep the output identical. Where the
        # template's structure shows that parsing and the table repair cannot change
        # anything, only the renumbering is left, done on the text (a third of the time).
        if self._light_repair:
            ids = iter(range(1001, 1_000_000))
            if _XML_INVALID.search(xml):
                xml = _XML_INVALID.sub("", xml)
            return _DOCPR.sub(lambda m: f"{m[1]}{next(ids)}{m[2]}", xml)
        tpl = self._tpl
        tree = tpl.fix_tables(xml)
        tpl.docx_ids_index = 1000
        tpl.fix_docpr_ids(tree)
        return etree.tostring(tree, encoding="unicode")

    # -- checking --------------------------------------------------------------------

    def placeholders(self) -> list[tuple[str, str]]:
        """Every (part label, dotted placeholder) the template reads from its context."""
        return [(label, path) for label, path, _ in self._placeholders()]

    def _placeholders(self) -> list[tuple[str, str, str | None]]:
        # (label, path in the context, loop variable it was written with: None outside loops)
        found = []
        for part in self._parts:
            ast = self.environment.parse(part.source)
            roots = meta.find_undeclared_variables(ast)
            loops = _loop_variables(ast)
            for path in _variable_paths(ast):
                root, _, rest = path.partition(".")
                if root in roots:
                    found.append((part.label, path, None))
                elif root in loops and rest:
                    # {% for b in beteiligte %}{{ b.anteil }}: checked against the list's first item
                    found.append((part.label, f"{loops[root]}.0.{rest}", root))
        return found

    def require_placeholders(self, *samples: Mapping[str, Any]) -> None:
        """Raise a TemplateError when the template reads a placeholder that ``samples`` lack."""
        unknown = [f for sample in samples for f in self.unknown_placeholders(sample)]
        if unknown:
            raise TemplateError(unknown, f"Vorlage {self.name} verwendet unbekannte Platzhalter – nichts geschrieben")

    def unknown_placeholders(self, sample: Mapping[str, Any]) -> list[Finding]:
        """Findings for placeholders that ``sample`` (a real context) does not provide."""
        findings = []
        seen = set()
        for label, path, loop in self._placeholders():
            if (label, path) in seen or _resolves(sample, path):
                continue
            seen.add((label, path))
            known = _known_paths(sample)
            close = difflib.get_close_matches(path, known, n=1)
            shown, where = path, ""
            if loop:  # named as written: {{ b.anteill }} in the loop over beteiligte
                items = path[:path.index(".0.") + 3]
                shown, where = loop + "." + path[len(items):], f" (in der Schleife über {items[:-3]})"
                close = [loop + "." + c[len(items):] for c in close if c.startswith(items)]
            hint = f" – gemeint ist wohl {{{{ {close[0]} }}}}" if close else ""
            findings.append(Finding(self.name, f"{label}: Platzhalter {{{{ {shown} }}}}{where} ist unbekannt{hint}"))
        return findings


def render_naive(path: Path, context: Mapping[str, Any]) -> bytes:
    """The plain docxtpl route (parse, render, save) – the reference for tests and benchmarks."""
    from docxtpl import DocxTemplate

    tpl = DocxTemplate(str(path))
    tpl.render(_with_inline_images(context, tpl), jinja_env=make_environment(), autoescape=True)
    buffer = io.BytesIO()
    tpl.save(buffer)
    return buffer.getvalue()


def _with_inline_images(value: Any, tpl) -> Any:
    """``value`` with every Image replaced by docxtpl's InlineImage bound to ``tpl``."""
    from docx.shared import Mm
    from docxtpl import InlineImage

    if isinstance(value, Image):
        return InlineImage(tpl, io.BytesIO(value.data), width=Mm(value.width_mm))
    if isinstance(value, Mapping):
        return {k: _with_inline_images(v, tpl) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_with_inline_images(v, tpl) for v in value]
    return value


def _repair_is_renumbering(tpl, source: str) -> bool:
    """Whether docxtpl's body repair does no more than renumber drawings for every context.

    It does when rendering cannot break the XML or change a table's shape. Checked on
    the patched source: every Jinja block opens, branches and closes at the same element
    path (``w:body/w:p/w:r/w:t``: then leaving its content out or repeating it leaves
    the XML well-formed); no statement stands between the rows or cells of a table
    (``{%tr %}``, ``{%tc %}``); a block that crosses a table's cell, row or grid
    boundaries holds that whole table; the source is well-formed; its tables already
    satisfy docxtpl's grid repair; and drawings use the usual ``wp`` prefix. Values
    are XML-escaped; images and RichText insert balanced XML.
    """
    if _RAW_MARKUP.search(source):
        return False
    stack: list[str] = []  # names of the open elements
    blocks: list[list] = []  # open Jinja blocks: [element path at the tag, lowest depth since]
    statements = 0
    for match in _STRUCTURE.finditer(source):
        closing, name, empty, keyword, rest = match.groups()
        if name is not None:
            if name in _TABLE_SHAPE and blocks:
                table = len(stack) if name == "w:tbl" and not closing else _deepest(stack, "w:tbl")
                if table < blocks[-1][1]:
                    return False  # a block reaches into a table it does not hold
            if closing:
                if not stack or stack[-1] != name:
                    return False
                stack.pop()
                for block in blocks:
                    block[1] = min(block[1], len(stack))
            elif not empty:
                stack.append(name)
            continue
        statements += 1
        if stack and stack[-1] in ("w:tbl", "w:tr"):
            return False
        if keyword in _BLOCK_OPEN or (keyword == "set" and "=" not in rest):
            blocks.append([tuple(stack), len(stack)])
        elif keyword in _BLOCK_MIDDLE or keyword.startswith("end"):
            if not blocks or blocks[-1][0] != tuple(stack):
                return False
            if keyword.startswith("end"):
                blocks.pop()
    if stack or blocks or statements != source.count("{%"):
        return False  # unbalanced, or a statement this scan could not read
    try:
        parsed = etree.fromstring(source)
    except etree.XMLSyntaxError:
        return False
    if "wp" in parsed.nsmap and parsed.nsmap["wp"] != WP_NAMESPACE:
        return False
    if any(uri == WP_NAMESPACE and prefix != "wp" for prefix, uri in parsed.nsmap.items()):
        return False
    return etree.tostring(tpl.fix_tables(source)) == etree.tostring(parsed)


def _deepest(stack: list[str], name: str) -> int:
    """Index of the innermost open element called ``name``; -1 if there is none."""
    for index in range(len(stack) - 1, -1, -1):
        if stack[index] == name:
            return index
    return -1


def _postprocess(tpl, xml: str) -> str:
    # The steps of docxtpl's render_xml_part after Jinja, skipping what cannot change anything.
    xml = xml.replace("\n<w:p ", "<w:p ").replace("\n<w:p>", "<w:p>")
    if "{_" in xml or "_}" in xml:
        xml = xml.replace("{_{", "{{").replace("}_}", "}}").replace("{_%", "{%").replace("%_}", "%}")
    if _LISTING.search(xml):
        xml = tpl.resolve_listing(xml)
    return xml


def _serialize(element) -> bytes:
    return etree.tostring(element, encoding="UTF-8", standalone=True)


def _tag_context(src: str, lineno: int | None) -> str:
    """The text of the template around a Jinja error line, without XML markup."""
    lines = src.splitlines()
    if not lineno or lineno > len(lines):
        return re.sub(r"<[^>]+>", "", src)[:80]
    text = re.sub(r"<[^>]+>", "", lines[lineno - 1]).strip()
    return text[:120]


def _variable_paths(ast: nodes.Node):
    """Dotted names read in ``ast``: 'kommune.name', 'kennung', 'landkreis.unterzeichner.0.name'."""
    inner = set()
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        inner.add(id(node.node))
    for node in ast.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        if id(node) in inner:
            continue  # part of a longer chain, reported with it
        parts = []
        current = node
        while isinstance(current, (nodes.Getattr, nodes.Getitem)):
            if isinstance(current, nodes.Getattr):
                parts.append(current.attr)
            elif isinstance(current.arg, nodes.Const):
                parts.append(str(current.arg.value))
            else:
                parts = []  # a computed index: check only the part before it
            current = current.node
        if isinstance(current, nodes.Name) and current.ctx == "load":
            yield ".".join([current.name, *reversed(parts)])


def _loop_variables(ast: nodes.Node) -> dict[str, str]:
    """Loop variable -> dotted path of what it iterates, for loops over a plain context path."""
    loops = {}
    for loop in ast.find_all(nodes.For):
        if isinstance(loop.target, nodes.Name):
            paths = list(_variable_paths(nodes.Output([loop.iter])))
            if len(paths) == 1 and isinstance(loop.iter, (nodes.Name, nodes.Getattr)):
                loops[loop.target.name] = paths[0]
    return loops


def _resolves(context: Mapping[str, Any], path: str) -> bool:
    value: Any = context
    for key in path.split("."):
        if isinstance(value, Mapping) and key in value:
            value = value[key]
        elif isinstance(value, (list, tuple)) and key.isdigit():
            if int(key) >= len(value):
                return False
            value = value[int(key)]
        elif hasattr(value, key) and not isinstance(value, (Mapping, list, tuple)):
            value = getattr(value, key)
        else:
            return False
    return True


def _known_paths(context: Mapping[str, Any], prefix: str = "") -> list[str]:
    paths = []
    for key, value in context.items():
        path = f"{prefix}{key}"
        paths.append(path)
        if isinstance(value, Mapping):
            paths += _known_paths(value, path + ".")
        elif isinstance(value, (list, tuple)) and value and isinstance(value[0], Mapping):
            paths += _known_paths(value[0], path + ".0.")
    return paths
