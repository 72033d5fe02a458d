"""The command line: through CliRunner, and once as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import docx
import pytest
from click.testing import CliRunner

from conftest import files_under
from kdigital.cli import cli
from kdigital.letters import TEMPLATE


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_letters_writes_and_summarises(workspace):
    result = invoke("-w", workspace.root, "letters")
    assert result.exit_code == 0, result.output
    assert "Anschreiben (DOCX)      22  outputs/letters" in result.stdout
    assert len(list((workspace.outputs / "letters").glob("*.docx"))) == 22


def test_real_process_from_inside_the_workspace(workspace):
    result = subprocess.run([sys.executable, "-m", "kdigital", "letters", "--only", "06534014"],
                            cwd=workspace.root, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "outputs/letters" in result.stdout
    assert [p.name for p in (workspace.outputs / "letters").iterdir()] == ["06534014_marburg.docx"]


def test_check_passes_on_the_shipped_workspace(workspace):
    result = invoke("-w", workspace.root, "check")
    assert result.exit_code == 0, result.output
    assert "Keine Fehler gefunden." in result.stdout


def misspell(template: Path, right: str, wrong: str) -> None:
    d = docx.Document(template)
    runs = [r for p in d.paragraphs for r in p.runs if right in r.text]
    assert runs, right
    runs[0].text = runs[0].text.replace(right, wrong)
    d.save(template)


def test_check_catches_a_misspelt_placeholder(workspace):
    misspell(workspace.template(TEMPLATE), "{{ anrede }}", "{{ anrde }}")
    result = invoke("-w", workspace.root, "check")
    assert result.exit_code == 1
    assert "interessensbekundung.docx" in result.stderr
    assert "{{ anrde }}" in result.stderr and "gemeint ist wohl {{ anrede }}" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    # letters refuses too, before writing anything
    result = invoke("-w", workspace.root, "letters")
    assert result.exit_code == 1 and "{{ anrde }}" in result.stderr
    assert files_under(workspace.outputs) == {}
    assert list(workspace.outputs.iterdir()) == []


def test_check_catches_a_misspelt_nested_placeholder(workspace):
    misspell(workspace.template(TEMPLATE), "{{ kampagne.frist }}", "{{ kampagne.fritz }}")
    result = invoke("-w", workspace.root, "check")
    assert result.exit_code == 1
    assert "{{ kampagne.fritz }}" in result.stderr and "{{ kampagne.frist }}" in result.stderr


def test_check_reports_jinja_syntax_errors_with_tag(workspace):
    misspell(workspace.template(TEMPLATE), "{{ anrede }}", "{{ anrede }")
    result = invoke("-w", workspace.root, "check")
    assert result.exit_code == 1
    assert "interessensbekundung.docx" in result.stderr and "Syntaxfehler" in result.stderr
    assert "{{ anrede }" in result.stderr


def test_no_workspace_is_a_clear_error(tmp_path):
    result = invoke("-w", tmp_path, "letters")
    assert result.exit_code == 1
    assert "kein kdigital-Arbeitsbereich" in result.stderr and "kdigital init" in result.stderr


def test_init_copies_inputs_and_never_overwrites(tmp_path):
    target = tmp_path / "kampagne"
    result = invoke("init", target)
    assert result.exit_code == 0, result.output
    assert (target / "inputs" / "roster.xlsx").is_file()
    assert (target / "templates" / TEMPLATE).is_file()
    result = invoke("init", target)
    assert result.exit_code == 1 and "nichts überschrieben" in result.stderr


@pytest.mark.parametrize("command", [None, *sorted(cli.commands)])
def test_every_command_has_german_help_with_example(command):
    args = [command, "--help"] if command else ["--help"]
    result = invoke(*args)
    assert result.exit_code == 0
    assert "Aufruf:" in result.stdout and "Beispiel:" in result.stdout
    assert "Diese Hilfe anzeigen" in result.stdout


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_is_documented_in_the_readme(command):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert f"| `{command}" in readme, f"command {command} is missing from the README's command table"


def test_help_imports_no_heavy_library():
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from kdigital.cli import cli\n"
        "for args in [['--help']] + [[name, '--help'] for name in cli.commands]:\n"
        "    assert CliRunner().invoke(cli, args).exit_code == 0, args\n"
        "heavy = ('docxtpl', 'docx', 'openpyxl', 'pypdf', 'pikepdf', 'babel', 'lxml', 'jinja2', 'matplotlib',\n"
        "         'kdigital.soffice')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
