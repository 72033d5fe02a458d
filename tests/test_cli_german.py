"""Click's own usage errors in German, through the real command line (kdigital.cli_german)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from kdigital.cli import cli


def invoke(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="kdigital", env=env)


ENGLISH = ("Error:", "Try '", "Usage:", "Missing", "No such", "Invalid value", "does not exist", "[OPTIONS]")


def assert_german_usage_error(result, command_path: str, message: str) -> None:
    """Exit code 2, usage line, help hint and the German message on stderr, nothing English."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith(f"Aufruf: {command_path} [OPTIONEN]"), result.stderr
    assert f"Hilfe: {command_path} --help\n" in result.stderr
    assert result.stderr.endswith(f"\nFehler: {message}\n"), result.stderr
    for word in ENGLISH:
        assert word not in result.stderr, word


def test_missing_argument():
    result = invoke("verify")
    assert_german_usage_error(result, "kdigital verify", "Pflichtargument MANIFEST fehlt.")


def test_missing_variadic_argument():
    result = invoke("pdf")
    assert_german_usage_error(result, "kdigital pdf", "Pflichtargument DATEIEN fehlt.")


def test_unknown_option():
    result = invoke("letters", "--unknown")
    assert_german_usage_error(result, "kdigital letters", "Unbekannte Option: --unknown")


def test_unknown_option_with_suggestion():
    result = invoke("letters", "--onyl", "06534014")
    assert_german_usage_error(result, "kdigital letters", "Unbekannte Option: --onyl. Meinten Sie „--only“?")


def test_unknown_command_with_and_without_suggestion():
    result = invoke("gibtsnicht")
    assert_german_usage_error(result, "kdigital", "Unbekannter Befehl „gibtsnicht“.")
    result = invoke("lettrs")
    assert_german_usage_error(result, "kdigital", "Unbekannter Befehl „lettrs“. Meinten Sie „letters“?")


def test_invalid_integer():
    result = invoke("letters", "-j", "abc")
    assert_german_usage_error(result, "kdigital letters",
                              "Ungültiger Wert für „-j“ / „--jobs“: „abc“ ist keine gültige ganze Zahl.")


def test_integer_out_of_range():
    result = invoke("costs", "--jobs", "0")
    assert_german_usage_error(result, "kdigital costs",
                              "Ungültiger Wert für „-j“ / „--jobs“: 0 liegt nicht im erlaubten Bereich x>=1.")


def test_missing_file(tmp_path):
    missing = tmp_path / "fehlt.docx"
    result = invoke("pdf", missing)
    assert_german_usage_error(result, "kdigital pdf",
                              f"Ungültiger Wert für DATEIEN: Datei „{missing}“ existiert nicht.")


def test_directory_where_a_file_is_expected(tmp_path):
    result = invoke("pdf", tmp_path)
    assert_german_usage_error(result, "kdigital pdf",
                              f"Ungültiger Wert für DATEIEN: Datei „{tmp_path}“ ist ein Ordner.")


def test_file_where_a_folder_is_expected(tmp_path):
    a_file = tmp_path / "datei.txt"
    a_file.write_text("x", encoding="utf-8")
    result = invoke("-w", a_file, "check")
    assert_german_usage_error(
        result, "kdigital", f"Ungültiger Wert für „-w“ / „--workspace“: Ordner „{a_file}“ ist eine Datei.")


def test_extra_argument(tmp_path):
    result = invoke("init", tmp_path / "a", "b")
    assert_german_usage_error(result, "kdigital init", "Unerwartetes zusätzliches Argument: b")
    assert not (tmp_path / "a").exists()


def test_option_without_its_value():
    result = invoke("letters", "--only")
    assert_german_usage_error(result, "kdigital letters", "Die Option „--only“ braucht einen Wert.")


def test_flag_with_a_value():
    result = invoke("letters", "--pdf=ja")
    assert_german_usage_error(result, "kdigital letters", "Die Option „--pdf“ nimmt keinen Wert an.")


def test_missing_command():
    result = invoke("-v")
    assert_german_usage_error(result, "kdigital", "Befehl fehlt.")


def test_kdigitals_own_usage_error(workspace):
    result = invoke("-w", workspace.root, "send", "--yes", env={"KDIGITAL_SMTP_HOST": None})
    assert_german_usage_error(result, "kdigital send",
                              "Zum Senden (--yes) den Mailserver mit --host angeben.")


def test_no_arguments_shows_the_help_with_exit_code_2():
    result = invoke()
    assert result.exit_code == 2
    assert result.stderr.startswith("Aufruf: kdigital [OPTIONEN] BEFEHL [ARGUMENTE]...")
    assert "Befehle:" in result.stderr and "Fehler:" not in result.stderr


def test_help_and_version_still_exit_0():
    result = invoke("--help")
    assert result.exit_code == 0 and "Optionen:" in result.stdout and "Befehle:" in result.stdout
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.startswith("kdigital ")


@pytest.mark.parametrize("command", [None, *sorted(cli.commands)])
def test_help_has_no_english_click_texts(command):
    result = invoke(*([command, "--help"] if command else ["--help"]))
    assert result.exit_code == 0
    for word in ("Usage:", "Options:", "Commands:", "Positional arguments", "[OPTIONS]", "COMMAND",
                 "INTEGER", "DIRECTORY", "default:", "Show this message"):
        assert word not in result.stdout, (command, word)


def test_real_process_german_usage_error():
    result = subprocess.run([sys.executable, "-m", "kdigital", "verify"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert result.stderr.endswith("Fehler: Pflichtargument MANIFEST fehlt.\n"), result.stderr
    assert "Hilfe: kdigital verify --help" in result.stderr
