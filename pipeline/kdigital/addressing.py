"""How a municipality and its mayor are named, addressed and greeted in German letters.

Office (Amt), title and thus grammatical gender are data from the roster; nothing
here is inferred from first names.
"""

from __future__ import annotations

import re
import unicodedata

from kdigital.roster import Municipality

# Office -> (feminine?, accusative form for the address block)
_OFFICES = {
    "Bürgermeister": False,
    "Bürgermeisterin": True,
    "Oberbürgermeister": False,
    "Oberbürgermeisterin": True,
}


def designation(m: Municipality) -> str:
    """The municipality as people write it: 'Universitätsstadt Marburg', 'Gemeinde Lahntal'."""
    return f"{m.kind} {m.name}"


def authority(m: Municipality) -> str:
    """The body that represents it: 'Magistrat der Stadt Kirchhain', 'Gemeindevorstand der Gemeinde Lahntal'."""
    body = "Gemeindevorstand" if m.kind == "Gemeinde" else "Magistrat"
    return f"{body} der {designation(m)}"


def full_name(m: Municipality) -> str:
    """'Dr. Thomas Spies' – the degree stays with the name."""
    return " ".join(part for part in (m.title, m.first_name, m.last_name) if part)


def _is_female(m: Municipality) -> bool:
    return _OFFICES[m.office]


def salutation(m: Municipality) -> str:
    """'Sehr geehrte Frau Bürgermeisterin Schnabel,' / 'Sehr geehrter Herr Oberbürgermeister Dr. Spies,'."""
    opening = "Sehr geehrte Frau" if _is_female(m) else "Sehr geehrter Herr"
    name = " ".join(part for part in (m.title, m.last_name) if part)
    return f"{opening} {m.office} {name},"


def address_lines(m: Municipality) -> list[str]:
    """The DIN 5008 address block (at most six lines).

    'Magistrat der Universitätsstadt Marburg' / 'Herrn Oberbürgermeister' /
    'Dr. Thomas Spies' / 'Markt 1' / '35037 Marburg' / '(nur per E-Mail)'.
    """
    lines = [
        authority(m),
        f"{'Frau' if _is_female(m) else 'Herrn'} {m.office}",
        full_name(m),
        m.street,
        f"{m.postcode} {m.town}",
    ]
    if m.channel == "E-Mail":
        lines.append("(nur per E-Mail)")
    return lines


_TRANSLITERATION = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})


def slug(text: str, max_length: int = 60) -> str:
    """A file-name part: 'Neustadt (Hessen)' -> 'neustadt-hessen', umlauts transliterated."""
    text = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATION))
    text = text.encode("ascii", "ignore").decode("ascii").lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return text[:max_length].rstrip("-") or "kommune"


def file_stem(m: Municipality) -> str:
    """'06534014_marburg' – deterministic, unique per AGS."""
    return f"{m.ags}_{slug(m.name)}"
