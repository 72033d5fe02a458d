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


# Advance widths of Arial (metrically the same as Helvetica and Liberation Sans) in 1/1000 em,
# for telling whether an address line fits the address field without wrapping.
_WIDTHS = {
    **dict.fromkeys(" ,./:;!Iijlft[]", 278), **dict.fromkeys("ijl", 222), **dict.fromkeys("-()r`", 333),
    **dict.fromkeys("0123456789abdeghnopquäöüß$#_?L", 556), **dict.fromkeys("cksvxyz", 500),
    "J": 500, "m": 833, "w": 722, "f": 278, "t": 278, "'": 191, '"': 355, "&": 667, "+": 584, "@": 1015,
    **dict.fromkeys("ABEKPSVXYÄ", 667), **dict.fromkeys("CDHNRUÜ", 722), **dict.fromkeys("FTZ", 611),
    **dict.fromkeys("GOQÖ", 778), "M": 833, "W": 944, "ß": 611, "é": 556, "è": 556,
}
ADDRESS_FIELD_EM = 22.9  # 85 mm (4819 twips) of the template's address cell at 10.5 pt
ADDRESS_LINES = 6  # the Anschriftzone of DIN 5008


def text_width_em(text: str) -> float:
    """Width of ``text`` set in Arial, in em (font sizes)."""
    return sum(_WIDTHS.get(ch, 556) for ch in text) / 1000


def address_problem(m: Municipality) -> str | None:
    """Why the address block of ``m`` would not fit the DIN 5008 address field, or None."""
    lines = address_lines(m)
    long = [line for line in lines if text_width_em(line) > ADDRESS_FIELD_EM]
    printed = len(lines) + len(long)  # a line too long wraps once (twice is not plausible here)
    if not long:
        return None
    where = "; ".join(f"„{line}“" for line in long)
    if printed > ADDRESS_LINES:
        return (f"Anschrift hätte {printed} statt höchstens {ADDRESS_LINES} Zeilen und ragt aus dem "
                f"Sichtfenster: zu lang für eine Zeile ist {where}")
    return f"Zeile bricht im Anschriftfeld um: {where}"
