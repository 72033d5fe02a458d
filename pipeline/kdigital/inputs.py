"""Loading and validating all inputs of a workspace at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from kdigital.campaign import Campaign, read_campaign
from kdigital.cost_workbook import read_cost_model
from kdigital.costs import CostModel, check_against_roster
from kdigital.errors import Finding, InputError, ValidationError
from kdigital.roster import Municipality, read_roster
from kdigital.workbook import open_workbook
from kdigital.workspace import Workspace


@dataclass(frozen=True)
class Inputs:
    """The validated contents of the workbooks."""

    roster: list[Municipality]
    campaign: Campaign
    cost_model: CostModel


def collect(ws: Workspace) -> tuple[Inputs | None, list[Finding]]:
    """Read both workbooks; the inputs (None when anything is wrong) and every finding.

    A workbook that is missing or unreadable is a finding too, so that the other
    one is still checked and one run shows everything.
    """
    findings: list[Finding] = []
    known_ags: set[str] = set()
    roster: list[Municipality] = []
    roster_findings: list[Finding] = []
    campaign = None
    try:
        wb = open_workbook(ws.roster)
    except InputError as exc:
        roster_findings = [Finding(ws.roster.name, str(exc))]
    else:
        try:
            roster, roster_findings = read_roster(wb, ws.roster.name, known_ags)
            campaign, campaign_findings = read_campaign(wb, ws.roster.name)
        finally:
            wb.close()
        roster_findings = roster_findings + campaign_findings
    findings += roster_findings
    model = None
    try:
        wb = open_workbook(ws.cost_model)
    except InputError as exc:
        findings.append(Finding(ws.cost_model.name, str(exc)))
    else:
        try:
            # scenario members are checked against the roster only when it could be read
            model, cost_findings = read_cost_model(wb, ws.cost_model.name, known_ags if known_ags else None)
        finally:
            wb.close()
        findings += cost_findings
    if model is not None and not roster_findings:
        findings += check_against_roster(model, roster, ws.cost_model.name)
    if findings:
        return None, findings
    return Inputs(roster, campaign, model), findings


def load_inputs(ws: Workspace) -> Inputs:
    """The validated inputs, or one ValidationError listing every problem of both workbooks."""
    inputs, findings = collect(ws)
    if findings:
        raise ValidationError(findings, f"{len(findings)} Fehler in den Arbeitsmappen – nichts geschrieben")
    return inputs


def select(roster: Sequence[Municipality], only: Sequence[str] | None, source: str) -> list[Municipality]:
    """The municipalities to write for; ``only`` AGS not in the roster are an error."""
    if not only:
        return list(roster)
    wanted = [a.strip().zfill(8) for a in only]
    known = {m.ags for m in roster}
    unknown = [a for a in wanted if a not in known]
    if unknown:
        raise ValidationError([Finding(source, f"AGS {a} (aus --only) steht nicht im Verzeichnis der Kommunen") for a in unknown])
    wanted_set = set(wanted)
    return [m for m in roster if m.ags in wanted_set]
