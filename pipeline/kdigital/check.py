"""``kdigital check``: validate the workbooks and every template without writing anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from kdigital import agreement, costsheets, letters, reminders
from kdigital.errors import Finding, InputError, TemplateError
from kdigital.inputs import collect
from kdigital.workspace import Workspace

# Template file -> a function giving a complete example context of its document kind.
DOCUMENT_KINDS: dict[str, Callable[[], Mapping[str, Any]]] = {
    letters.TEMPLATE: letters.example_context,
    costsheets.TEMPLATE: costsheets.example_context,
    agreement.TEMPLATE: agreement.example_context,
    agreement.SIGNATURE_TEMPLATE: agreement.example_context,
    reminders.TEMPLATE: reminders.example_context,
}


@dataclass
class CheckReport:
    """What was checked, and every finding."""

    checked: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def check_workspace(ws: Workspace) -> CheckReport:
    """Check both workbooks and all templates; collect every finding."""
    from kdigital.render import DocumentTemplate

    report = CheckReport()
    try:
        _, findings = collect(ws)
        report.findings += findings
        report.checked.append(f"{ws.roster.name}, {ws.cost_model.name}")
    except InputError as exc:
        report.findings.append(Finding("Eingaben", str(exc)))
    names = sorted({p.name for p in ws.templates.glob("*.docx") if not p.name.startswith("~$")} | set(DOCUMENT_KINDS))
    for name in names:
        path = ws.template(name)
        if not path.exists():
            report.findings.append(Finding(name, f"Vorlage fehlt in {ws.templates}"))
            continue
        try:
            template = DocumentTemplate(path)
        except TemplateError as exc:
            report.findings += exc.findings
            continue
        report.checked.append(name)
        if name in DOCUMENT_KINDS:
            report.findings += template.unknown_placeholders(DOCUMENT_KINDS[name]())
    return report
