"""The identifiers printed on our documents, and how a returned file is matched to a party and a kind.

An identifier is ``<Kampagne-ID>-<KIND>-<AGS>`` (``KD-2022-IB-06534014``). A
file matches by an identifier in its name or text layer, or by a roster AGS
plus a document kind (code or word) in its name. Separators may be spaces or
underscores in names, and text extraction may put spaces around hyphens. An
8-digit number counts as an AGS only when it is one of the parties' or has
the district's prefix, so dates and scanner numbers in names are ignored.
Whatever is unclear raises ``Unmatched`` with the reason: never a guess.

A QR code (``kdigital.qr``) carries the same identifier (``Matcher.code``); on
a signature page also the agreement's version and fingerprint, compared with
the current agreement by ``version_flag``.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from kdigital.qr import Code

# Document kinds in the printed identifier. IB is letters.KIND (the reply form of
# the letter), KB the cost sheet, VB the signature page of the agreement.
KINDS = {"IB": "Rückantwort Interessensbekundung", "KB": "Kostenblatt", "VB": "Vereinbarung (Unterschriftsseite)"}
# Words that name a kind in a file name, compared without case and umlauts.
_KIND_WORDS = {
    "IB": ("interessensbekundung", "interessenbekundung", "ruckantwort", "rueckantwort"),
    "KB": ("kostenblatt",),
    "VB": ("vereinbarung", "unterschriftsseite"),
}


@dataclass(frozen=True)
class Party:
    """Who a return belongs to: a municipality of the roster, or the district itself (VB only)."""

    ags: str
    name: str  # 'Universitätsstadt Marburg'
    received: dt.date | None = None  # Eingang of the roster: the date the reply form came in
    district: bool = False  # the district itself, not a municipality


class Unmatched(Exception):
    """A document cannot be matched; the message says why, in plain German."""


@dataclass(frozen=True)
class AgreementVersion:
    """The agreement a signature page is checked against: its version and fingerprint, and where they come from."""

    version: str
    fingerprint: str
    source: str  # 'outputs/agreement/vereinbarung_19bf1198.docx' or 'aus den Eingaben berechnet'


def version_flag(code: Code, current: AgreementVersion) -> str | None:
    """Why a signature page's code shows another agreement than ``current``; None when it is the same."""
    if code.fingerprint and code.fingerprint != current.fingerprint:
        return (f"ältere Fassung unterschrieben (Fingerprint {code.fingerprint}, aktuell {current.fingerprint}"
                f" laut {current.source})")
    if code.version and code.version != current.version:
        return (f"ältere Fassung unterschrieben (Version {code.version}, aktuell {current.version} laut "
                f"{current.source}; Vertragstext gleich)")
    return None


# How a document was matched, in one word (the ledger's ``matched_by``), from the phrases of ``Matcher.assign``.
ROUTES = {"QR-Code": "QR", "im Dateinamen": "Dateiname", "im Text": "Text", "der E-Mail": "E-Mail"}


def route(how: str) -> str:
    """The one word for the first way ``how`` names: QR, Dateiname, Text or E-Mail."""
    first = how.split(",")[0]
    return next((word for phrase, word in ROUTES.items() if phrase in first), first)


def _fold(text: str) -> str:
    """Lower case without accents: 'Rückantwort' -> 'ruckantwort'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class Matcher:
    """Finds party and kind of a document from its name and text."""

    _SEP = r"[\s_-]*"

    def __init__(self, campaign_id: str, parties: Mapping[str, Party]):
        self.campaign_id = campaign_id
        self.parties = parties
        campaign = self._SEP.join(re.escape(p) for p in campaign_id.split("-"))
        kinds = "|".join(KINDS)
        self.ours = re.compile(rf"(?<![A-Za-z0-9]){campaign}{self._SEP}({kinds}){self._SEP}(\d{{8}})(?!\d)",
                               re.IGNORECASE)
        self.foreign = re.compile(rf"([A-Za-z0-9]+(?:-[A-Za-z0-9]+)*)-({kinds})-(\d{{8}})(?!\d)")
        self.prefixes = {ags[:5] for ags in parties}
        self.kind_codes = re.compile(rf"(?<![A-Za-z])({kinds})(?![A-Za-z])", re.IGNORECASE)

    def identifiers(self, text: str) -> list[tuple[str, str]]:
        """(kind, AGS) of every identifier of this campaign in ``text``."""
        return [(m.group(1).upper(), m.group(2)) for m in self.ours.finditer(text)]

    def code(self, code: Code) -> tuple[Party, str, str]:
        """(party, kind, identifier) of a QR code; raises Unmatched when it is not one of this campaign's parties."""
        found = self.identifiers(code.identifier)
        if not found:
            raise Unmatched(f"QR-Code mit Kennung {code.identifier} gehört nicht zur Kampagne {self.campaign_id}")
        kind, ags = found[0]
        if ags not in self.parties:
            raise Unmatched(f"unbekannte Kommune: AGS {ags} (QR-Code {code.identifier}) steht nicht im "
                            "Verzeichnis der Kommunen")
        return self.parties[ags], kind, f"{self.campaign_id}-{kind}-{ags}"

    def assign(self, name: str, text: str, fallback: str) -> tuple[Party, str, str, str]:
        """(party, kind, identifier, how it was found) of a document; raises Unmatched when unclear."""
        stem = Path(name).stem
        found = [(k, a, "Kennung im Dateinamen") for k, a in self.identifiers(stem)]
        found += [(k, a, "Kennung im Text") for k, a in self.identifiers(text)]
        found += self._from_name(self._without_identifiers(stem))
        if not found and fallback:
            found = [(k, a, "Kennung im Betreff/Namen der E-Mail") for k, a in self.identifiers(fallback)]
            found = found or [(k, a, how.replace("Dateinamen", "Betreff/Namen der E-Mail"))
                              for k, a, how in self._from_name(self._without_identifiers(fallback))]
        if not found:
            others = [m.group(0) for m in self.foreign.finditer(f"{stem}\n{text}")]
            if others:
                raise Unmatched(f"Kennung {others[0]} gehört nicht zur Kampagne {self.campaign_id}")
            raise Unmatched(f"keine Kennung ({self.campaign_id}-IB-<AGS> …) und keine AGS einer Kommune gefunden, "
                            "weder im Dateinamen noch im Text – Kennung in den Dateinamen aufnehmen")
        agses = sorted({a for _, a, _ in found})
        if len(agses) > 1:
            raise Unmatched(f"mehrdeutig: Kennungen/AGS mehrerer Kommunen ({', '.join(agses)}) – bitte trennen "
                            "oder umbenennen")
        ags = agses[0]
        if ags not in self.parties:
            raise Unmatched(f"unbekannte Kommune: AGS {ags} steht nicht im Verzeichnis der Kommunen")
        how = ", ".join(dict.fromkeys(h for _, _, h in found))
        kinds = sorted({k for k, _, _ in found if k})
        if not kinds:
            kinds = sorted(self._kinds_in_name(self._without_identifiers(stem))
                           or (self._kinds_in_name(self._without_identifiers(fallback)) if fallback else set()))
            how += ", Dokumentart im Namen"
        if len(kinds) > 1:
            raise Unmatched(f"mehrdeutig: mehrere Dokumentarten ({', '.join(kinds)}) – bitte trennen oder umbenennen")
        if not kinds:
            raise Unmatched(f"Dokumentart nicht erkennbar (AGS {ags} gefunden) – Kennung wie "
                            f"{self.campaign_id}-IB-{ags} oder IB/KB/VB in den Dateinamen aufnehmen")
        kind = kinds[0]
        return self.parties[ags], kind, f"{self.campaign_id}-{kind}-{ags}", how

    def _without_identifiers(self, text: str) -> str:
        """``text`` without identifiers, ours or other campaigns' (their AGS must not count as bare AGS)."""
        return self.foreign.sub(" ", self.ours.sub(" ", text))

    def _from_name(self, stem: str) -> list[tuple[str | None, str, str]]:
        """Bare AGS in a file name: roster AGS count; other numbers of the district's form are unknown AGS."""
        result = []
        for number in re.findall(r"(?<!\d)(\d{8})(?!\d)", stem):
            if number in self.parties or number[:5] in self.prefixes:  # other 8-digit numbers: dates, scanner ids
                result.append((None, number, "AGS im Dateinamen"))
        return result

    def _kinds_in_name(self, stem: str) -> set[str]:
        kinds = {m.group(1).upper() for m in self.kind_codes.finditer(stem)}
        folded = _fold(stem)
        kinds |= {kind for kind, words in _KIND_WORDS.items() if any(w in folded for w in words)}
        return kinds
