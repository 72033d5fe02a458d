"""The public-law agreement (§§ 24 ff. KGG) with the municipalities that said yes.

Stage: validated inputs -> participants (roster answer "ja") and their cost
shares (scenario ``Interesse``) -> the agreement and one signature page
(counterpart) per party in ``outputs/agreement``.

Every counterpart is traceable to the same text: the *fingerprint* is the first
12 hex digits of the SHA-256 of the agreement's body text, rendered with the
fingerprint itself left empty; the *version* is derived from the templates, the
participants and the cost figures. Same inputs, same version and fingerprint.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import zipfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Sequence

from kdigital import addressing, formatting, qr
from kdigital.allocation import Scenario, compute
from kdigital.batch import Progress
from kdigital.campaign import Campaign
from kdigital.contexts import campaign_context, document_properties
from kdigital.costs import INTEREST
from kdigital.errors import Finding, ValidationError
from kdigital.inputs import Inputs
from kdigital.roster import SECOND_SIGNATORY, Municipality
from kdigital.workspace import Workspace

TEMPLATE = "vereinbarung.docx"
SIGNATURE_TEMPLATE = "vereinbarung_unterschrift.docx"
KIND = "VB"
FOLDER = "agreement"
SIGNATURES = "unterschriften"
TITLE = "Öffentlich-rechtliche Vereinbarung Kompetenzcenter kommunal digital"
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


@dataclass(frozen=True)
class AgreementRun:
    """What ``make_agreement`` wrote."""

    folder: Path
    document: Path
    signature_pages: list[Path]
    participants: list[Municipality]
    net_cost: Decimal
    version: str
    fingerprint: str
    pdfs: list[Path]
    pdf_failures: dict[str, str]


def participants(roster: Sequence[Municipality]) -> list[Municipality]:
    """The municipalities whose roster answer is "ja", in roster order."""
    return [m for m in roster if m.interest]


def check(inputs: Inputs, source: str) -> list[Finding]:
    """Why no agreement can be made from ``inputs``: no participants, missing signatories."""
    findings = []
    members = participants(inputs.roster)
    if not members:
        findings.append(Finding(source, "Keine Beteiligten: keine Kommune hat in der Spalte „Interesse“ mit ja "
                                        "geantwortet, das Szenario „Interesse“ ist leer", "Kommunen", None, "Interesse"))
    for m in members:
        for column, value in zip(SECOND_SIGNATORY, (m.second_signatory, m.second_function)):
            if not value:
                findings.append(Finding(source, "fehlt für die Vereinbarung (zweite Unterschrift nach § 71 Abs. 2 HGO)",
                                        "Kommunen", m.row, column))
    c = inputs.campaign
    for key, value in (("Kreisschlüssel", c.district_key), ("Landrat/Landrätin", c.head_name),
                       ("Funktion Landrat/Landrätin", c.head_function),
                       ("Weiteres Mitglied Kreisausschuss", c.deputy_name),
                       ("Funktion weiteres Mitglied Kreisausschuss", c.deputy_function)):
        if not value:
            findings.append(Finding(source, f"„{key}“ fehlt für die Vereinbarung (Unterzeichner des Landkreises)",
                                    "Kampagne", None, "Wert"))
    if not c.seat:  # a district named without its seat: the signature block would read ", den …"
        findings.append(Finding(source, "„Sitz des Landkreises“ fehlt für die Vereinbarung (Ort der Unterschrift "
                                        f"des {c.district_name})", "Kampagne", None, "Wert"))
    if c.district_key and not (c.district_key.isdigit() and len(c.district_key) == 5):
        findings.append(Finding(source, "„Kreisschlüssel“ muss aus genau 5 Ziffern bestehen", "Kampagne", None,
                                "Wert", c.district_key))
    return findings


def representation(body: str, signatories: Sequence[tuple[str, str]]) -> str:
    """'vertreten durch den Magistrat, dieser vertreten durch Dr. Thomas Spies (Oberbürgermeister) und …'."""
    people = " und ".join(f"{name} ({function})" for name, function in signatories)
    return f"vertreten durch den {body}, dieser vertreten durch {people}"


def signatories(m: Municipality) -> list[tuple[str, str]]:
    """The mayor and a further member of the Gemeindevorstand/Magistrat (§ 71 (2) HGO)."""
    return [(addressing.full_name(m), m.office), (m.second_signatory, m.second_function)]


def district_party(campaign: Campaign) -> dict[str, Any]:
    """The district as a party: represented by the Kreisausschuss, signed by two of its members."""
    people = [(campaign.head_name, campaign.head_function), (campaign.deputy_name, campaign.deputy_function)]
    return {
        "name": campaign.district_name,
        "bezeichnung": campaign.district_name,
        "ags": f"{campaign.district_key}000",
        "vertretung": representation("Kreisausschuss", people),
        "ort": campaign.seat,
        "kennung": campaign.identifier(KIND, f"{campaign.district_key}000"),
        "unterzeichner": [{"name": n, "funktion": f} for n, f in people],
    }


def municipality_party(m: Municipality, campaign: Campaign, scenario: Scenario) -> dict[str, Any]:
    """A participating municipality as a party, with its cost share."""
    body = "Gemeindevorstand" if m.kind == "Gemeinde" else "Magistrat"
    share = Decimal(m.population) * 100 / Decimal(scenario.population)
    return {
        "name": m.name,
        "bezeichnung": addressing.designation(m),
        "ags": m.ags,
        "vertretung": representation(body, signatories(m)),
        "ort": m.town,
        "kennung": campaign.identifier(KIND, m.ags),
        "einwohner": formatting.integer(m.population),
        "anteil": formatting.decimal_number(share, 4) + " %",
        "betrag": formatting.money(scenario.amounts[m.ags]),
        "unterzeichner": [{"name": n, "funktion": f} for n, f in signatories(m)],
    }


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " und " + names[-1]


def build_context(inputs: Inputs) -> dict[str, Any]:
    """The agreement's context without version and fingerprint."""
    campaign, model = inputs.campaign, inputs.cost_model
    scenario = next(s for s in compute(model, inputs.roster) if s.key == INTEREST)
    members = participants(inputs.roster)
    others = [addressing.designation(m) for m in inputs.roster if not m.interest]
    total = sum(scenario.amounts.values(), Decimal("0.00"))
    return {
        "kampagne": campaign_context(campaign),
        "landkreis": district_party(campaign),
        "beteiligte": [municipality_party(m, campaign, scenario) for m in members],
        "nicht_beigetreten": others,
        "nicht_beigetreten_text": _join(others) if others else "",
        "foerderung": {"aktiv": model.funding > 0, "betrag": formatting.money(model.funding)},
        "kosten": {
            "netto": formatting.money(model.net_cost),
            "stichtag": formatting.date(campaign.population_date),
            "quelle": campaign.population_source,
            "einwohner": formatting.integer(scenario.population),
            "anteil": formatting.decimal_number(Decimal(100), 4) + " %",
            "summe": formatting.money(total),
        },
    }


def version_of(templates: Sequence[bytes], context: dict[str, Any]) -> str:
    """8 hex digits from the templates' bytes and the data (participants, cost figures)."""
    digest = hashlib.sha256()
    for data in templates:
        digest.update(hashlib.sha256(data).digest())
    digest.update(json.dumps(context, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()[:8]


def body_text(docx: bytes) -> str:
    """The text of the document body, one line per paragraph."""
    from lxml import etree

    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        root = etree.fromstring(archive.read("word/document.xml"))
    lines = []
    for paragraph in root.iter(f"{_W}p"):
        lines.append("".join(t.text or "" for t in paragraph.iter(f"{_W}t")))
    return "\n".join(lines)


def fingerprint_of(docx: bytes) -> str:
    """First 12 lowercase hex digits of the SHA-256 of the body text (UTF-8)."""
    return hashlib.sha256(body_text(docx).encode("utf-8")).hexdigest()[:12]


def example_context() -> dict[str, Any]:
    """A complete context of example data (both templates), for checking them without inputs."""
    import dataclasses

    from kdigital.costs import CostItem, CostModel
    from kdigital.letters import example_campaign, example_municipality

    campaign = dataclasses.replace(example_campaign(), district_key="06534", head_name="A", head_function="B",
                                   deputy_name="C", deputy_function="D")
    m = dataclasses.replace(example_municipality(), interest=True, second_signatory="E", second_function="F")
    model = CostModel((CostItem("Stelle", "Personal", Decimal(1), Decimal(50000), True, "Annahme"),), {}, "")
    context = build_context(Inputs([m], campaign, model))
    return {**context, "version": "00000000", "fingerprint": "000000000000", "partei": context["landkreis"],
            "qr": ""}


OLDER = "fruehere_fassungen"
_VERSIONED = re.compile(r"^(?:vereinbarung|\d{8}_.+)_(?P<version>[0-9a-f]{8})\.(?:docx|pdf)$")


def retire_old_versions(folder: Path, version: str, current: set[Path]) -> list[Path]:
    """Move files of other agreement versions into ``fruehere_fassungen/<version>/``; where they went.

    Only one version stands in ``outputs/agreement``, so that nobody prints or
    sends a counterpart of an outdated text; earlier ones are kept, out of the way.
    """
    moved = []
    for directory in (folder, folder / SIGNATURES):
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            match = _VERSIONED.match(path.name)
            if not match or not path.is_file() or path.resolve() in current or match["version"] == version:
                continue
            target = folder / OLDER / match["version"] / path.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
            moved.append(target)
    return moved


def make_agreement(
    ws: Workspace,
    *,
    pdf: bool = False,
    workers: int | None = None,
    progress: Progress | None = None,
) -> AgreementRun:
    """Validate, then write the agreement and every signature page into ``outputs/agreement`` atomically."""
    from kdigital.batch import render_batch
    from kdigital.inputs import load_inputs
    from kdigital.ledger import record_generated
    from kdigital.pdf import convert_and_check
    from kdigital.output import Staging
    from kdigital.render import DocumentTemplate

    progress = progress or Progress()
    inputs = load_inputs(ws)
    findings = check(inputs, ws.roster.name)
    if findings:
        raise ValidationError(findings, f"{len(findings)} Fehler – keine Vereinbarung geschrieben")
    template = DocumentTemplate(ws.template(TEMPLATE))
    signature = DocumentTemplate(ws.template(SIGNATURE_TEMPLATE))
    context = build_context(inputs)
    version = version_of([ws.template(TEMPLATE).read_bytes(), ws.template(SIGNATURE_TEMPLATE).read_bytes()], context)
    parties = [context["landkreis"], *context["beteiligte"]]
    probe = {**context, "version": version, "fingerprint": "", "partei": parties[0], "qr": ""}
    template.require_placeholders(probe)
    signature.require_placeholders(probe)

    campaign = inputs.campaign
    properties = document_properties(TITLE, f"{campaign.campaign_id}-{KIND}-{version}", None, "Vereinbarung",
                                     campaign.district_name)
    draft = template.render({**context, "version": version, "fingerprint": ""})
    fingerprint = fingerprint_of(draft)
    final = {**context, "version": version, "fingerprint": fingerprint}
    name = f"vereinbarung_{version}.docx"

    def job(party: dict[str, Any]):
        page = f"{SIGNATURES}/{party['ags']}_{addressing.slug(party['name'])}_{version}.docx"
        code = qr.image(qr.Code(party["kennung"], 1, version, fingerprint))
        return page, {**final, "partei": party, "qr": code}, document_properties(
            "Unterschriftenseite " + TITLE, party["kennung"], None, "Unterschriftenseite", campaign.district_name)

    folder = ws.outputs / FOLDER
    with Staging(folder) as staging:
        (staging.path / name).write_bytes(template.render(final, properties))
        (staging.path / SIGNATURES).mkdir()
        progress.start("Unterschriftenseiten", len(parties))
        try:
            hashes = render_batch(signature, parties, job, staging.path, workers=workers, progress=progress.advance)
        finally:
            progress.finish()
        pages = [job(p)[0] for p in parties]
        pdfs: list[str] = []
        failures: dict[str, str] = {}
        if pdf:
            expected = {name: (fingerprint, None), **{p: (party["kennung"], 1) for p, party in zip(pages, parties)}}
            pdfs, failures = convert_and_check(staging.path, expected, progress, workers)
        published = staging.publish([name, *pages, *pdfs])
    retire_old_versions(folder, version, {p.resolve() for p in published})
    record_generated(ws.root, campaign.campaign_id, KIND,
                     [(p.name[:8], p) for p in published if p.parent.name == SIGNATURES]
                     + [(party["ags"], p) for party in parties[:1] for p in published if p.parent == folder],
                     {Path(k).name: v for k, v in hashes.items()},
                     {"version": version, "fingerprint": fingerprint})
    return AgreementRun(folder, published[0], published[1:len(pages) + 1], participants(inputs.roster),
                        inputs.cost_model.net_cost, version, fingerprint, published[len(pages) + 1:], failures)
