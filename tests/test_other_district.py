"""Another district runs the campaign by changing the Kampagne sheet: nothing of Marburg-Biedenkopf remains."""

from __future__ import annotations

import email
import email.policy
import io
import zipfile

from conftest import set_setting
from kdigital import addressing
from kdigital.agreement import make_agreement
from kdigital.dispatch import MailItem, draft_bytes
from kdigital.inputs import load_inputs
from kdigital.letters import make_letters


def giessen(ws) -> None:
    for key, value in (("Landkreis", "Landkreis Gießen"), ("Sitz des Landkreises", "Gießen"),
                       ("Kampagne-ID", "KD-2023"), ("Kreisschlüssel", "06531")):
        set_setting(ws.roster, "Kampagne", key, value)


def core_xml(path) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read("docProps/core.xml").decode("utf-8")


def test_the_district_comes_from_the_campaign_sheet(workspace, tmp_path):
    giessen(workspace)
    run = make_agreement(workspace)
    body = run.document.read_bytes()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        xml = archive.read("word/document.xml").decode("utf-8")
    assert "Landkreis Gießen" in xml and "Gießen</w:t>" in xml
    district_page = next(p for p in run.signature_pages if p.name.startswith("06531000_"))
    assert district_page.name.startswith("06531000_landkreis-giessen_")
    assert "Marburg-Biedenkopf" not in core_xml(run.document) + core_xml(district_page)
    assert "<dc:creator>Landkreis Gießen – Der Kreisausschuss</dc:creator>" in core_xml(run.document)

    letters = make_letters(workspace, only=["06534014"])
    assert "<dc:creator>Landkreis Gießen – Der Kreisausschuss</dc:creator>" in core_xml(letters.documents[0])

    inputs = load_inputs(workspace)
    m = next(m for m in inputs.roster if m.ags == "06534014")
    letter = tmp_path / "06534014_marburg.pdf"
    letter.write_bytes(b"%PDF-1.4\n%%EOF\n")
    item = MailItem(m.ags, "IB", addressing.designation(m), m.email, addressing.salutation(m), (letter,))
    msg = email.message_from_bytes(draft_bytes(item, inputs.campaign), policy=email.policy.default)
    assert msg["From"].addresses[0].display_name.startswith("Landkreis Gießen – ")
    assert "Landkreis Gießen" in msg.get_body().get_content()
    assert "Marburg-Biedenkopf" not in msg["From"] + msg.get_body().get_content()


def test_older_workbooks_without_the_keys_stay_marburg_biedenkopf(workspace):
    for key in ("Landkreis", "Sitz des Landkreises"):
        set_setting(workspace.roster, "Kampagne", key, None)
    campaign = load_inputs(workspace).campaign
    assert (campaign.district_name, campaign.seat) == ("Landkreis Marburg-Biedenkopf", "Marburg")


def test_a_district_named_without_its_seat_is_an_error_for_the_agreement(workspace):
    import pytest

    from kdigital.errors import ValidationError

    set_setting(workspace.roster, "Kampagne", "Landkreis", "Landkreis Gießen")
    set_setting(workspace.roster, "Kampagne", "Sitz des Landkreises", None)
    with pytest.raises(ValidationError, match="Sitz des Landkreises"):
        make_agreement(workspace)
    assert not (workspace.outputs / "agreement").exists()
