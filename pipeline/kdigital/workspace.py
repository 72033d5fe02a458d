"""Workspaces: a folder with ``inputs/``, ``templates/`` and ``outputs/``.

The repository itself is the default workspace with the real shipped inputs;
``init_workspace`` copies those inputs and templates into a new folder for a
new campaign.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from kdigital.errors import InputError

ROSTER = "roster.xlsx"
COST_MODEL = "cost_model.xlsx"


@dataclass(frozen=True)
class Workspace:
    """The folders of one campaign."""

    root: Path

    @property
    def inputs(self) -> Path:
        return self.root / "inputs"

    @property
    def templates(self) -> Path:
        return self.root / "templates"

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def roster(self) -> Path:
        return self.inputs / ROSTER

    @property
    def cost_model(self) -> Path:
        return self.inputs / COST_MODEL

    def template(self, name: str) -> Path:
        return self.templates / name

    def require(self) -> "Workspace":
        """Self, or an InputError when the folder is no workspace."""
        if not self.inputs.is_dir():
            raise InputError(
                f"{self.root} ist kein kdigital-Arbeitsbereich: der Ordner „inputs“ fehlt. "
                f"Mit „kdigital init {self.root}“ anlegen oder mit -w den Arbeitsbereich angeben."
            )
        return self


def shipped_workspace() -> Workspace:
    """The repository's own workspace with the shipped inputs and templates."""
    override = os.environ.get("KDIGITAL_SHIPPED")
    root = Path(override) if override else Path(__file__).resolve().parents[2]
    ws = Workspace(root)
    if not (ws.inputs / ROSTER).is_file() or not ws.templates.is_dir():
        raise InputError(f"Mitgelieferte Eingaben und Vorlagen nicht gefunden unter {root}.")
    return ws


def init_workspace(target: Path, source: Workspace | None = None) -> Workspace:
    """Copy the shipped inputs and templates into ``target``; never overwrite anything."""
    source = source or shipped_workspace()
    ws = Workspace(target)
    for folder in (ws.inputs, ws.templates):
        if folder.exists() and any(folder.iterdir()):
            raise InputError(f"{folder} existiert bereits und ist nicht leer – nichts überschrieben.")
    target.mkdir(parents=True, exist_ok=True)
    for src, dst in ((source.inputs, ws.inputs), (source.templates, ws.templates)):
        shutil.copytree(src, dst, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("~$*", ".~lock*", "returns"))
    ws.outputs.mkdir(exist_ok=True)
    return ws
