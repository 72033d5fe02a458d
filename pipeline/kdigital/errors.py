"""The exceptions of kdigital and the exit codes they map to.

Rule: library code raises one of these for anything a user can fix (bad workbook,
bad template, missing program) and logs warnings for what it can work around.
The CLI turns them into a message in exactly one place (``cli.main``); any other
exception is a bug and shows a traceback.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Sequence


class ExitCode(enum.IntEnum):
    """Exit statuses of the ``kdigital`` command; part of its interface."""

    ok = 0
    invalid_input = 1  # workbook, template or file the user gave is wrong
    usage = 2  # wrong options (Click's own)
    missing_dependency = 3  # LibreOffice or another program is not installed
    conversion_failed = 4  # a document could not be converted
    dispatch_failed = 5  # the mail server refused the connection or messages
    files_rejected = 6  # archive: some returns were rejected (the volume of the accepted ones is written)
    verification_failed = 7  # verify: a hash does not match or an archived file is missing
    interrupted = 130


@dataclass(frozen=True)
class Finding:
    """One problem found in an input, with where it is.

    ``source`` is the file (workbook or template), ``sheet``/``row``/``column``
    locate a cell (row is the 1-based Excel row), ``value`` is the offending value.
    """

    source: str
    message: str
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    value: object = None

    def location(self) -> str:
        """Where the problem is, in words: 'roster.xlsx, Blatt Kommunen, Zeile 5, Spalte AGS'."""
        parts = [self.source]
        if self.sheet:
            parts.append(f"Blatt „{self.sheet}“")
        if self.row is not None:
            parts.append(f"Zeile {self.row}")
        if self.column:
            parts.append(f"Spalte „{self.column}“")
        return ", ".join(parts)

    def __str__(self) -> str:
        text = f"{self.location()}: {self.message}"
        if self.value is not None and self.value != "":
            text += f" (Wert: {self.value!r})"
        return text


class KdigitalError(Exception):
    """Base of all errors a user can act on."""

    exit_code = ExitCode.invalid_input


class InputError(KdigitalError):
    """An input file is missing, unreadable or not what it should be."""


class ValidationError(KdigitalError):
    """An input holds errors; ``findings`` lists all of them."""

    def __init__(self, findings: list[Finding], headline: str | None = None):
        self.findings = list(findings)
        self.headline = headline or f"{len(self.findings)} Fehler in den Eingabedaten"
        super().__init__(self.headline)

    def __str__(self) -> str:
        lines = [self.headline + ":"]
        lines += [f"  - {f}" for f in self.findings]
        return "\n".join(lines)


class TemplateError(ValidationError):
    """A Word template cannot be used: syntax error, unknown placeholder, damaged file."""


class ConversionError(KdigitalError):
    """A document could not be converted (e.g. DOCX to PDF)."""

    exit_code = ExitCode.conversion_failed


class MissingDependencyError(KdigitalError):
    """A program kdigital needs is not installed."""

    exit_code = ExitCode.missing_dependency


SHOWN_WARNINGS = 10  # a batch of 10,751 must not drown the terminal in the same warning


def warn_some(log: logging.Logger, messages: Sequence[str], rest: str) -> None:
    """Log the first ``SHOWN_WARNINGS`` of ``messages`` as warnings, then '… und N weitere <rest>'."""
    for message in messages[:SHOWN_WARNINGS]:
        log.warning("%s", message)
    if len(messages) > SHOWN_WARNINGS:
        log.warning("… und %d weitere %s", len(messages) - SHOWN_WARNINGS, rest)
