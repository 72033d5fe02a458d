"""The manifest of an archive volume (JSON and CSV) and its verification.

``<volume>.manifest.json`` is the record: for every source file (and every
attachment of an e-mail) its original path, size, SHA-256, party, document
kind, pages in the volume, signature status and verdict; a source split into
several documents by its QR codes has one entry per document, each with the
pages of the source it covers (``source_range``), the codes read
(``qr_codes``) and what to check (``flags``, e.g. an older agreement signed); the volume's own
SHA-256; the kdigital version and the time of the run; and per return empty
fields for the archivist's manual checks. A rejected source has its reason and,
when the reason names one, the AGS found (``ags``; null otherwise). ``.csv``
holds the same rows for a spreadsheet (semicolons, UTF-8 with BOM, as German
Excel expects).

Paths of copies and of the volume are relative to the manifest's folder, so an
archive folder can be moved as a whole. Source paths are as shown to users:
relative to the workspace when inside it.

``verify_manifest`` recomputes every hash: the volume and every copy must be
there and match; a source that is no longer in the returns folder is skipped
(it was archived and may be cleared away), one that is there must match.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from kdigital.errors import InputError
from kdigital.identifiers import KINDS
from kdigital.intake import Rejection, sha256_file
from kdigital.volume import Placement, VolumeInfo

FORMAT = "kdigital-archiv/1"
# The archivist's manual checks, recorded by hand in the manifest (JSON) or the CSV.
CHECKS = {
    "two_signatures": "Zwei Unterschriften vorhanden (ja/nein)",
    "seal": "Dienstsiegel vorhanden (ja/nein)",
    "paper_original": "Papieroriginal (Ablageort)",
    "checked_by": "Geprüft von",
    "checked_on": "Geprüft am",
}


@dataclass(frozen=True)
class VolumeFile:
    """The written volume: file name, size, SHA-256, pages."""

    name: str
    size: int
    sha256: str
    pages: int


def manifest(info: VolumeInfo, volume: VolumeFile, placements: Sequence[Placement],
             rejected: Sequence[Rejection], *, workspace: Path, returns: str) -> dict[str, Any]:
    """The manifest as plain data (what the JSON file holds)."""
    originals = f"{info.name}/originals"
    sources: list[dict[str, Any]] = []
    for p in placements:
        d = p.document
        signature = {"status": "unsigned"}
        if d.signature:
            signature = {"status": "signed", "count": d.signature.count, "signers": list(d.signature.signers),
                         "covers_whole_file": d.signature.covers_whole_file}
        sources.append({
            "path": d.shown, "part": d.part, "size": d.size, "sha256": d.sha256, "file_sha256": d.file_sha256,
            "form": d.form,
            "verdict": "accepted-duplicate" if p.duplicate else "accepted",
            "reason": None,
            "ags": d.party.ags, "party": d.party.name, "kind": d.kind, "kind_name": KINDS[d.kind],
            "identifier": d.identifier, "matched_by": d.matched_by, "route": d.route,
            "received": d.received.isoformat(), "received_from": d.received_from,
            "source_pages": d.pages, "source_range": list(d.page_range), "split": d.source_range is not None,
            "volume_pages": [p.first, p.last], "qr_codes": list(d.codes), "flags": list(d.flags),
            "signature": signature,
            "copy": f"{originals}/{d.copy}",
            "container_copy": f"{originals}/{d.container_copy}" if d.container_copy else None,
            "duplicate": {"number": p.number, "of": p.of, "same_bytes_as": p.same_as} if p.duplicate else None,
            "notes": list(d.notes),
            "checks": {key: None for key in CHECKS},
        })
    for r in rejected:
        sources.append({"path": r.shown, "part": r.part, "size": r.size, "sha256": r.sha256,
                        "file_sha256": r.file_sha256, "verdict": "rejected", "reason": r.reason,
                        "ags": r.ags,  # the AGS the reason speaks of, when one was found
                        "source_range": list(r.source_range) if r.source_range else None})
    return {
        "format": FORMAT,
        "kdigital_version": info.version,
        "created": info.created.isoformat(timespec="seconds"),
        "campaign": info.campaign_id,
        "workspace": str(workspace),
        "returns_folder": returns,
        "volume": {"file": volume.name, "size": volume.size, "sha256": volume.sha256, "pages": volume.pages},
        "summary": {"documents": len(placements), "duplicates": sum(1 for p in placements if p.duplicate),
                    "signed": sum(1 for p in placements if p.document.signature), "rejected": len(rejected),
                    "flagged": sum(1 for p in placements if p.document.flags)},
        "sources": sources,
    }


def write_manifest(data: dict[str, Any], json_path: Path, csv_path: Path) -> None:
    """Write the manifest as JSON and as CSV."""
    json_path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    csv_path.write_bytes(to_csv(data).encode("utf-8-sig"))


_CSV_COLUMNS = ["Eintrag", "Datei", "Anhang", "Größe (Byte)", "SHA-256", "AGS", "Partei", "Dokumentart",
                "Kennung", "Seiten im Band", "Seiten der Datei", "Eingang", "Eingang laut", "Signatur", "Unterzeichner", "Ergebnis",
                "Hinweise", "Kopie im Archiv", *CHECKS.values()]


def to_csv(data: dict[str, Any]) -> str:
    """The manifest as CSV text: one row for the volume, then one per source."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(_CSV_COLUMNS)
    volume = data["volume"]
    writer.writerow(["Band", volume["file"], "", volume["size"], volume["sha256"], "", "", "", "",
                     f"1–{volume['pages']}", "", "", "", "", "",
                     f"erstellt {data['created']} mit kdigital {data['kdigital_version']}", "", volume["file"]]
                    + [""] * len(CHECKS))
    for s in data["sources"]:
        if s["verdict"] == "rejected":
            writer.writerow(["abgelehnt", s["path"], s["part"] or "", s["size"], s["sha256"], s.get("ags") or ""]
                            + [""] * 4
                            + [_range(s.get("source_range"))] + [""] * 4
                            + [f"abgelehnt: {s['reason']}", "", ""] + [""] * len(CHECKS))
            continue
        first, last = s["volume_pages"]
        signature = s["signature"]
        verdict = "aufgenommen"
        if s["duplicate"]:
            verdict += f" (Duplikat {s['duplicate']['number']}/{s['duplicate']['of']})"
        writer.writerow([
            "Rücklauf", s["path"], s["part"] or "", s["size"], s["sha256"], s["ags"], s["party"], s["kind_name"],
            s["identifier"], _range([first, last]), _range(s.get("source_range")),
            dt.date.fromisoformat(s["received"]).strftime("%d.%m.%Y"), s["received_from"],
            "digital signiert" if signature["status"] == "signed" else "keine digitale Signatur",
            ", ".join(signature.get("signers", [])), verdict,
            " | ".join([f"Bitte prüfen: {f}" for f in s.get("flags", [])] + s["notes"]), s["copy"],
        ] + [s["checks"].get(key) or "" for key in CHECKS])
    return out.getvalue()


def _range(pages) -> str:
    if not pages:
        return ""
    first, last = pages
    return str(first) if first == last else f"{first}–{last}"


# --- verification -------------------------------------------------------------------


@dataclass(frozen=True)
class HashCheck:
    """One recomputed hash: what, which file, expected and found (None: file not there)."""

    what: str  # Band, Kopie, Quelle
    path: str
    expected: str
    actual: str | None
    required: bool  # the volume and the copies must be there; sources may have been cleared away

    @property
    def ok(self) -> bool:
        return self.actual == self.expected or (self.actual is None and not self.required)

    @property
    def status(self) -> str:
        if self.actual is None:
            return "fehlt" if self.required else "nicht mehr vorhanden (übersprungen)"
        return "stimmt" if self.actual == self.expected else "ABWEICHUNG"


@dataclass(frozen=True)
class Verification:
    """All hash checks of one manifest."""

    manifest: Path
    checks: list[HashCheck]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[HashCheck]:
        return [c for c in self.checks if not c.ok]


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest at ``path``; InputError when it is missing or not a kdigital manifest."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"Manifest {path} nicht gefunden.")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} ist kein lesbares Manifest (JSON): {exc}")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{path} ist kein kdigital-Archivmanifest (Format „{FORMAT}“ erwartet). "
                         "Anzugeben ist die Datei <Band>.manifest.json neben dem Band.")
    return data


def verify_manifest(path: Path) -> Verification:
    """Recompute every hash the manifest at ``path`` records."""
    data = read_manifest(path)
    folder = path.parent
    roots = [Path(data["workspace"])] if data.get("workspace") else []
    roots.append(folder.parent.parent)  # <workspace>/outputs/archive/<manifest>
    checks = [_check("Band", folder, data["volume"]["file"], data["volume"]["sha256"], True)]
    seen: set[str] = set()
    for s in data["sources"]:
        for what, relative, expected in (("Kopie", s.get("copy"), s["sha256"]),
                                         ("Kopie", s.get("container_copy"), s["file_sha256"])):
            if relative and relative not in seen:
                seen.add(relative)
                checks.append(_check(what, folder, relative, expected, True))
        if s["path"] in seen:
            continue
        seen.add(s["path"])
        source = Path(s["path"])
        candidates = [source] if source.is_absolute() else [root / source for root in roots]
        found = next((c for c in candidates if c.is_file()), None)
        checks.append(HashCheck("Quelle", s["path"], s["file_sha256"], sha256_file(found) if found else None, False))
    return Verification(path, checks)


def _check(what: str, folder: Path, relative: str, expected: str, required: bool) -> HashCheck:
    target = folder / relative
    return HashCheck(what, relative, expected, sha256_file(target) if target.is_file() else None, required)
