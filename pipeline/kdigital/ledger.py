"""The campaign ledger: what happened to which document, as an append-only SQLite log.

``ledger.sqlite`` sits at the workspace root, beside ``inputs/`` and
``outputs/``, because it records facts that outlive every output: a letter
that was sent stays sent when ``outputs/`` is cleared and regenerated. Rules:

* Append-only. Rows are only ever inserted; triggers in the database refuse
  UPDATE and DELETE, and no kdigital command deletes or rewrites the file.
  A correction is a new event (e.g. a second ``sent`` after ``--resend``).
* One event per row: the document (AGS and kind, e.g. ``IB`` for the
  interest request, ``KB`` cost sheet, ``VB`` agreement), what happened
  (``generated``, ``sent``, ``returned``, ``archived``), through which channel,
  which file with its SHA-256, and a JSON ``detail`` for the rest.
* Each ``record`` is committed at once, so an interrupted run keeps what it did;
  ``transaction`` groups the records of one batch into one commit.
* WAL mode: readers (``kdigital check``, a spreadsheet export) never block a
  running dispatch.

The schema has a version (table ``schema_version``); a later kdigital that
changes it migrates forward in ``_migrate``, and an older kdigital refuses a
newer ledger instead of misreading it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kdigital.errors import InputError

FILENAME = "ledger.sqlite"
SCHEMA_VERSION = 1

# What can happen to a document. Extend here; the database does not restrict it,
# so adding an event needs no migration.
GENERATED = "generated"
SENT = "sent"
RETURNED = "returned"
ARCHIVED = "archived"
EVENTS = (GENERATED, SENT, RETURNED, ARCHIVED)

_SCHEMA = """
CREATE TABLE schema_version (
    version INTEGER NOT NULL
);
CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    time       TEXT NOT NULL,           -- UTC, ISO 8601, e.g. 2022-03-25T08:00:00+00:00
    campaign   TEXT,                    -- Kampagne-ID, e.g. KD-2022
    ags        TEXT NOT NULL,
    kind       TEXT NOT NULL,           -- document kind: IB, KB, VB ...
    event      TEXT NOT NULL,           -- generated, sent, returned, archived
    channel    TEXT,                    -- E-Mail, Post ...
    file       TEXT,                    -- file name of the document
    sha256     TEXT,                    -- of that file
    message_id TEXT,
    recipient  TEXT,
    detail     TEXT NOT NULL DEFAULT '{}'  -- JSON object
);
CREATE INDEX events_document ON events (ags, kind, event);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'ledger is append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'ledger is append-only'); END;
"""

_COLUMNS = ("id", "time", "campaign", "ags", "kind", "event", "channel", "file", "sha256",
            "message_id", "recipient", "detail")


@dataclass(frozen=True)
class Event:
    """One row of the ledger. ``time`` is timezone-aware UTC; ``detail`` the decoded JSON."""

    id: int
    time: dt.datetime
    campaign: str | None
    ags: str
    kind: str
    event: str
    channel: str | None = None
    file: str | None = None
    sha256: str | None = None
    message_id: str | None = None
    recipient: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class Ledger:
    """An open ledger; use ``Ledger.open(root)`` as a context manager."""

    def __init__(self, connection: sqlite3.Connection, path: Path):
        self._db = connection
        self.path = path

    @classmethod
    def open(cls, root: Path) -> "Ledger":
        """Open (and on first use create) ``root/ledger.sqlite``.

        Raises InputError when the file is no SQLite database, is locked for
        longer than the timeout, or was written by a newer kdigital.
        """
        path = Path(root) / FILENAME
        try:
            connection = sqlite3.connect(path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise InputError(f"Kampagnenprotokoll {path} lässt sich nicht öffnen: {exc}") from exc
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            _migrate(connection, path)
        except sqlite3.DatabaseError as exc:
            connection.close()
            raise InputError(
                f"Kampagnenprotokoll {path} ist beschädigt oder keine SQLite-Datenbank ({exc}). "
                "Die Datei nicht löschen – sie belegt, was schon versandt wurde; "
                "eine Sicherung zurückspielen oder die Datei prüfen lassen."
            ) from exc
        except BaseException:
            connection.close()
            raise
        return cls(connection, path)

    @staticmethod
    def exists(root: Path) -> bool:
        """True when ``root`` already has a ledger (lets a dry run avoid creating one)."""
        return (Path(root) / FILENAME).is_file()

    def close(self) -> None:
        """Close the database; every record is already committed."""
        self._db.close()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self):
        """Group many records into one commit (a batch of 10,751 letters is one write, not 10,751)."""
        self._db.execute("BEGIN")
        try:
            yield self
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def record(
        self,
        event: str,
        *,
        ags: str,
        kind: str,
        campaign: str | None = None,
        channel: str | None = None,
        file: str | None = None,
        sha256: str | None = None,
        message_id: str | None = None,
        recipient: str | None = None,
        detail: dict[str, Any] | None = None,
        time: dt.datetime | None = None,
    ) -> Event:
        """Append one event and commit it; returns it as stored.

        ``event`` is one of ``EVENTS``; ``time`` defaults to now (UTC).
        Raises ValueError for an unknown event or an empty AGS or kind: those
        are programming errors, not user input.
        """
        if event not in EVENTS:
            raise ValueError(f"unknown ledger event {event!r}; known: {', '.join(EVENTS)}")
        if not ags or not kind:
            raise ValueError("ags and kind must not be empty")
        when = (time or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
        detail_json = json.dumps(detail or {}, ensure_ascii=False, sort_keys=True)
        values = (when.isoformat(timespec="seconds"), campaign, ags, kind, event, channel, file, sha256,
                  message_id, recipient, detail_json)
        cursor = self._db.execute(
            f"INSERT INTO events ({', '.join(_COLUMNS[1:])}) VALUES ({', '.join('?' * len(values))})",
            values,
        )
        return _event((cursor.lastrowid, *values))

    def was_sent(self, ags: str, kind: str, *, campaign: str | None = None) -> bool:
        """True when the ledger has a ``sent`` event for this document (of ``campaign``, if given)."""
        sql = "SELECT 1 FROM events WHERE event = ? AND ags = ? AND kind = ?"
        params: list[Any] = [SENT, ags, kind]
        if campaign is not None:
            sql += " AND campaign = ?"
            params.append(campaign)
        return self._db.execute(sql + " LIMIT 1", params).fetchone() is not None

    def events(self, event: str | None = None, ags: str | None = None, kind: str | None = None,
               *, campaign: str | None = None) -> list[Event]:
        """The events matching every given filter, oldest first."""
        filters = {"event": event, "ags": ags, "kind": kind, "campaign": campaign}
        where = [f"{name} = ?" for name, value in filters.items() if value is not None]
        params = [value for value in filters.values() if value is not None]
        sql = f"SELECT {', '.join(_COLUMNS)} FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [_event(row) for row in self._db.execute(sql + " ORDER BY id", params)]


def _event(row: tuple) -> Event:
    values = dict(zip(_COLUMNS, row))
    values["time"] = dt.datetime.fromisoformat(values["time"])
    values["detail"] = json.loads(values["detail"] or "{}")
    return Event(**values)


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    """Create the schema in a new file; refuse a ledger from a newer kdigital."""
    # IMMEDIATE: two processes opening a new ledger at once must not both create it.
    db.execute("BEGIN IMMEDIATE")
    try:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "schema_version" not in tables:
            if tables:
                raise InputError(f"{path} ist kein Kampagnenprotokoll von kdigital (Tabelle schema_version fehlt).")
            for statement in _statements(_SCHEMA):
                db.execute(statement)
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        else:
            (version,) = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
            if version is None or version > SCHEMA_VERSION:
                raise InputError(
                    f"Kampagnenprotokoll {path} hat Schema-Version {version}, diese kdigital-Version kennt "
                    f"höchstens {SCHEMA_VERSION}. kdigital aktualisieren."
                )
            # Version 1 is the first; later versions add their steps here, oldest first.
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _statements(script: str) -> list[str]:
    """Split the schema script into statements (triggers contain ';' inside BEGIN … END)."""
    statements, current = [], []
    for line in script.strip().splitlines():
        current.append(line)
        text = "\n".join(current).strip()
        if sqlite3.complete_statement(text):
            statements.append(text)
            current = []
    return statements


def record_generated(root: Path, campaign: str, kind: str, documents: list[tuple[str, Path]],
                     known: dict[str, str] | None = None, detail: dict[str, Any] | None = None) -> None:
    """Record a ``generated`` event for each (AGS, written file), in one commit.

    ``known`` maps file names to SHA-256 digests already computed while writing
    (the renderer's); other files are hashed here. ``detail`` goes with every event
    (the agreement's version and fingerprint).
    """
    if not documents:
        return
    import hashlib

    known = known or {}
    with Ledger.open(root) as ledger, ledger.transaction():
        for ags, path in documents:
            digest = known.get(path.name) or hashlib.sha256(path.read_bytes()).hexdigest()
            file = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
            ledger.record(GENERATED, ags=ags, kind=kind, campaign=campaign, file=file, sha256=digest,
                          detail=detail or {})
