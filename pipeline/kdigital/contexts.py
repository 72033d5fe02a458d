"""Context parts shared by every document kind: campaign settings and the municipality, formatted."""

from __future__ import annotations

from typing import Any

from kdigital import addressing, formatting
from kdigital.campaign import Campaign
from kdigital.roster import Municipality


def campaign_context(campaign: Campaign) -> dict[str, str]:
    """The ``kampagne`` part of a context: campaign settings formatted for print."""
    return {
        "id": campaign.campaign_id,
        "briefdatum": formatting.date(campaign.letter_date),
        "frist": formatting.date(campaign.deadline),
        "bezug_top": campaign.reference_item,
        "bezug_sitzung": campaign.reference_meeting,
        "bezug_datum": formatting.date(campaign.reference_date),
        "fachbereich": campaign.department,
        "fachdienst": campaign.unit,
        "ansprechpartner": campaign.contact,
        "zimmer": campaign.room,
        "telefon": campaign.phone,
        "fax": campaign.fax,
        "vermittlung": campaign.switchboard,
        "email_ansprechpartner": campaign.contact_email,
        "email_fachdienst": campaign.unit_email,
        "unterzeichner": campaign.signatory,
        "funktion": campaign.signatory_role,
        "einwohner_stichtag": formatting.date(campaign.population_date),
        "einwohner_quelle": campaign.population_source,
        "landkreis": campaign.district_name,
        "sitz": campaign.seat,
    }


def municipality_context(m: Municipality) -> dict[str, Any]:
    """The ``kommune`` and ``empfaenger`` parts of a context, and the address block and salutation."""
    return {
        "kommune": {
            "ags": m.ags,
            "name": m.name,
            "bezeichnung": addressing.designation(m),
            "art": m.kind,
            "strasse": m.street,
            "plz": m.postcode,
            "ort": m.town,
            "einwohner": formatting.integer(m.population),
        },
        "empfaenger": {
            "amt": m.office,
            "name": addressing.full_name(m),
            "titel": m.title,
            "vorname": m.first_name,
            "nachname": m.last_name,
        },
        "anschrift": addressing.address_lines(m),
        "anrede": addressing.salutation(m),
    }


def document_properties(title: str, identifier: str, m: Municipality | None, kind: str,
                        district: str) -> dict[str, str]:
    """Core properties of one document (title, author, subject, keywords with identifier and AGS)."""
    who = addressing.designation(m) if m else district
    # LibreOffice splits keywords at spaces and semicolons: keep each one a single word.
    keywords = [identifier, m.ags if m else identifier.rsplit("-", 1)[-1], kind]
    return {
        "title": f"{title} – {who}",
        "author": f"{district} – Der Kreisausschuss",
        "last_modified_by": f"{district} – Der Kreisausschuss",  # not the template's last editor
        "subject": f"{title}, Kennung {identifier}",
        "keywords": ", ".join(keywords),
        "language": "de-DE",
    }
