"""The campaign ledger: an append-only SQLite log at the workspace root."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from kdigital.errors import InputError
from kdigital.ledger import FILENAME, SCHEMA_VERSION, Ledger


def test_open_creates_schema_in_wal_mode(tmp_path):
    with Ledger.open(tmp_path) as ledger:
        assert ledger.path == tmp_path / FILENAME
        assert ledger.events() == []
    db = sqlite3.connect(tmp_path / FILENAME)
    assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    columns = {row[1] for row in db.execute("PRAGMA table_info(events)")}
    assert {"id", "time", "ags", "kind", "event", "channel", "file", "sha256", "message_id", "recipient",
            "detail"} <= columns
    db.close()


def test_record_and_query(tmp_path):
    when = dt.datetime(2022, 3, 25, 10, 15, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    with Ledger.open(tmp_path) as ledger:
        sent = ledger.record("sent", ags="06534014", kind="IB", campaign="KD-2022", channel="E-Mail",
                             file="06534014_marburg.pdf", sha256="ab" * 32, message_id="<x@example.org>",
                             recipient="poststelle@marburg.example", detail={"Anhänge": ["ä.pdf"]}, time=when)
        ledger.record("generated", ags="06534009", kind="IB", campaign="KD-2022", file="06534009_fronhausen.pdf")
    assert sent.time == dt.datetime(2022, 3, 25, 9, 15, tzinfo=dt.timezone.utc)

    with Ledger.open(tmp_path) as ledger:  # committed and there after reopening
        assert ledger.was_sent("06534014", "IB")
        assert ledger.was_sent("06534014", "IB", campaign="KD-2022")
        assert not ledger.was_sent("06534014", "IB", campaign="KD-2023")
        assert not ledger.was_sent("06534014", "KB")
        assert not ledger.was_sent("06534009", "IB")  # generated is not sent
        assert [e.ags for e in ledger.events()] == ["06534014", "06534009"]
        (only,) = ledger.events("sent")
        assert only == sent
        assert only.detail == {"Anhänge": ["ä.pdf"]}
        assert ledger.events(ags="06534009", kind="IB")[0].event == "generated"
        assert ledger.events("sent", ags="06534009") == []


def test_time_defaults_to_now_in_utc(tmp_path):
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    with Ledger.open(tmp_path) as ledger:
        event = ledger.record("sent", ags="06534014", kind="IB")
    assert event.time.tzinfo == dt.timezone.utc
    assert before <= event.time <= dt.datetime.now(dt.timezone.utc)


def test_rows_can_neither_be_changed_nor_deleted(tmp_path):
    with Ledger.open(tmp_path) as ledger:
        ledger.record("sent", ags="06534014", kind="IB")
    db = sqlite3.connect(tmp_path / FILENAME)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE events SET recipient = 'x'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM events")
    db.close()
    with Ledger.open(tmp_path) as ledger:
        assert len(ledger.events()) == 1


def test_unknown_event_or_missing_document_is_a_programming_error(tmp_path):
    with Ledger.open(tmp_path) as ledger:
        with pytest.raises(ValueError, match="unknown ledger event"):
            ledger.record("lost", ags="06534014", kind="IB")
        with pytest.raises(ValueError, match="ags and kind must not be empty"):
            ledger.record("sent", ags="", kind="IB")
        with pytest.raises(TypeError):
            ledger.record("sent", ags="06534014", kind="IB", recipent="typo@example.org")
        assert ledger.events() == []


def test_damaged_file_is_reported_and_left_alone(tmp_path):
    path = tmp_path / FILENAME
    path.write_bytes(b"this is no database" * 100)
    with pytest.raises(InputError, match="nicht löschen"):
        Ledger.open(tmp_path)
    assert path.read_bytes() == b"this is no database" * 100


def test_foreign_database_and_newer_schema_are_refused(tmp_path):
    db = sqlite3.connect(tmp_path / FILENAME)
    db.execute("CREATE TABLE something (x)")
    db.commit()
    db.close()
    with pytest.raises(InputError, match="kein Kampagnenprotokoll"):
        Ledger.open(tmp_path)

    newer = tmp_path / "newer"
    newer.mkdir()
    Ledger.open(newer).close()
    db = sqlite3.connect(newer / FILENAME)
    db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION + 1,))
    db.commit()
    db.close()
    with pytest.raises(InputError, match="kdigital aktualisieren"):
        Ledger.open(newer)


def test_exists(tmp_path):
    assert not Ledger.exists(tmp_path)
    Ledger.open(tmp_path).close()
    assert Ledger.exists(tmp_path)
