"""The identifiers printed on our documents, and how a returned file is matched to a party and a kind.

An identifier is ``<Kampagne-ID>-<KIND>-<AGS>`` (``KD-2022-IB-06534014``). A
file matches by an identifier in its name or text layer, or by a roster AGS
plus a document kind (code or word) in its name. Separators may be spaces or
underscores in names, and text extraction may put spaces around hyphens. An
8-digit number counts as an AGS only when it is one of the parties' or has
the district's prefix, so dates and scanner numbers in names are ignored.
A bare AGS needs a document kind: a code (IB, VB) or word in the name
(Rückantwort, Interessensbekundung; Vereinbarung, Unterschrift), else such a
word in the text layer when it names one kind only, else the kind the caller
may assume (``Unnamed``: a reply form while no agreement has gone out yet),
with a note saying so. Whatever is unclear raises ``Unmatched`` with the
reason: never a guess.

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
    "VB": ("vereinbarung", "unterschrift"),
}
# Words that name a kind in a text layer: only the two kinds that come back signed.
_TEXT_KIND_WORDS = {"IB": _KIND_WORDS["IB"], "VB": _KIND_WORDS["VB"]}


@dataclass(frozen=True)
class Party:
    """Who a return belongs to: a municipality of the roster, or the district itself (VB only)."""

    ags: str
    name: str  # 'Universitätsstadt Marburg'
    received: dt.date | None = None  # Eingang of the roster: the date the reply form came in
    district: bool = False  # the district itself, not a municipality
    interest: bool | None = None  # Interesse of the roster: True makes a participant, who signs the agreement

    @property
    def signs_agreement(self) -> bool:
        """True when a signature page (VB) is expected back: from a participant (Interesse ja) or the district."""
        return self.district or self.interest is True


DISTRICT_NAME = "Landkreis (Kreisausschuss)"


def district_ags(agses, key: str = "") -> str | None:
    """The district's AGS (<Kreisschlüssel>000): from ``key``, else the one prefix all ``agses`` share; else None."""
    if not key:
        prefixes = {ags[:5] for ags in agses}
        key = prefixes.pop() if len(prefixes) == 1 else ""
    return f"{key}000" if key else None


class Unmatched(Exception):
    """A document cannot be matched; the message says why, in plain German.

    ``ags`` is the AGS found on the way, when one was (an unknown one, or one without a document kind).
    """

    def __init__(self, message: str, ags: str | None = None):
        super().__init__(message)
        self.ags = ags


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


@dataclass(frozen=True)
class Unnamed:
    """What a bare AGS without a named kind becomes: ``kind`` with ``reason`` as its note, or (kind None)
    a rejection that gives ``reason``."""

    kind: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class Match:
    """A document's party, kind and identifier, how they were found, and notes on what was assumed."""

    party: Party
    kind: str
    identifier: str
    how: str
    notes: tuple[str, ...] = ()


class Matcher:
    """Finds party and kind of a document from its name and text."""

    _SEP = r"[\s_-]*"

    def __init__(self, campaign_id: str, parties: Mapping[str, Party], unnamed: Unnamed = Unnamed()):
        self.campaign_id = campaign_id
        self.parties = parties
        self.unnamed = unnamed
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
            raise Unmatched(f"QR-Code mit Kennung {code.identifier} gehört nicht zur Kampagne {self.campaign_id}",
                            code.identifier[-8:])
        kind, ags = found[0]
        if ags not in self.parties:
            raise Unmatched(f"unbekannte Kommune: AGS {ags} (QR-Code {code.identifier}) steht nicht im "
                            "Verzeichnis der Kommunen", ags)
        return self.parties[ags], kind, f"{self.campaign_id}-{kind}-{ags}"

    def assign(self, name: str, text: str, fallback: str) -> tuple[Party, str, str, str]:
        """(party, kind, identifier, how it was found) of a document; raises Unmatched when unclear."""
        found = self.match(name, text, fallback)
        return found.party, found.kind, found.identifier, found.how

    def match(self, name: str, text: str, fallback: str) -> Match:
        """The Match of a document by its name, text layer and ``fallback`` (an e-mail's subject and name);
        raises Unmatched when unclear."""
        stem = Path(name).stem
        found = [(k, a, "Kennung im Dateinamen") for k, a in self.identifiers(stem)]
        found += [(k, a, "Kennung im Text") for k, a in self.identifiers(text)]
        found += self._from_name(self._without_identifiers(stem))
        if not found and fallback:
            found = [(k, a, "Kennung im Betreff/Namen der E-Mail") for k, a in self.identifiers(fallback)]
            found = found or [(k, a, how.replace("Dateinamen", "Betreff/Namen der E-Mail"))
                              for k, a, how in self._from_name(self._without_identifiers(fallback))]
        if not found:
            others = [m for m in self.foreign.finditer(f"{stem}\n{text}")]
            if others:
                raise Unmatched(f"Kennung {others[0].group(0)} gehört nicht zur Kampagne {self.campaign_id}",
                                others[0].group(3))
            raise Unmatched(f"keine Kennung ({self.campaign_id}-IB-<AGS> …) und keine AGS einer Kommune gefunden, "
                            "weder im Dateinamen noch im Text – Kennung in den Dateinamen aufnehmen")
        agses = sorted({a for _, a, _ in found})
        if len(agses) > 1:
            raise Unmatched(f"mehrdeutig: Kennungen/AGS mehrerer Kommunen ({', '.join(agses)}) – bitte trennen "
                            "oder umbenennen")
        ags = agses[0]
        if ags not in self.parties:
            raise Unmatched(f"unbekannte Kommune: AGS {ags} steht nicht im Verzeichnis der Kommunen", ags)
        how = ", ".join(dict.fromkeys(h for _, _, h in found))
        kinds = sorted({k for k, _, _ in found if k})
        notes: tuple[str, ...] = ()
        if not kinds:
            kinds = sorted(self._kinds_in_name(self._without_identifiers(stem))
                           or (self._kinds_in_name(self._without_identifiers(fallback)) if fallback else set()))
            how += ", Dokumentart im Namen"
        if len(kinds) > 1:
            raise Unmatched(f"mehrdeutig: mehrere Dokumentarten ({', '.join(kinds)}) – bitte trennen oder umbenennen",
                            ags)
        if not kinds:
            kinds, how, notes = self._unnamed_kind(ags, text, how.replace(", Dokumentart im Namen", ""))
        kind = kinds[0]
        return Match(self.parties[ags], kind, f"{self.campaign_id}-{kind}-{ags}", how, notes)

    def _unnamed_kind(self, ags: str, text: str, how: str) -> tuple[list[str], str, tuple[str, ...]]:
        """(kinds, how, notes) for a bare AGS whose name names no kind: by the text layer, else ``unnamed``."""
        in_text = sorted(self._kinds_in_text(text))
        if len(in_text) == 1:
            return in_text, how + ", Dokumentart im Text", ()
        why = (f"der Text nennt mehrere ({', '.join(in_text)})" if in_text
               else "weder Dateiname noch Text nennen sie")
        if self.unnamed.kind:
            return [self.unnamed.kind], how + ", Dokumentart angenommen", (
                f"Dokumentart nicht angegeben ({why}) – {self.unnamed.reason}",)
        raise Unmatched(f"Dokumentart nicht erkennbar (AGS {ags} gefunden; {why})"
                        + (f": {self.unnamed.reason}" if self.unnamed.reason else "")
                        + f" – Kennung wie {self.campaign_id}-IB-{ags} oder IB/KB/VB in den Dateinamen aufnehmen",
                        ags)

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

    @staticmethod
    def _kinds_in_text(text: str) -> set[str]:
        folded = _fold(text)
        return {kind for kind, words in _TEXT_KIND_WORDS.items() if any(w in folded for w in words)}

    def _kinds_in_name(self, stem: str) -> set[str]:
        kinds = {m.group(1).upper() for m in self.kind_codes.finditer(stem)}
        folded = _fold(stem)
        kinds |= {kind for kind, words in _KIND_WORDS.items() if any(w in folded for w in words)}
        return kinds
