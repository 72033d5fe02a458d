"""Click's own messages in German: help headings, usage errors and parameter checks.

Click looks every user-facing text up at run time through the names ``_`` and
``ngettext`` that its modules import from :mod:`gettext`. :func:`install`
points those names at the catalogue below, so Click builds its messages in
German from the start ("Datei „x“ existiert nicht.") instead of kdigital
translating finished English sentences. Texts that are not in the catalogue
(Click's errors about programming mistakes, such as an option declared twice)
stay English.

Click assembles two messages from fixed English parts, the missing parameter
and the parameter hint in quotes; :func:`error_message` words those itself.
:func:`show_error` prints a usage error the way Click does (usage line, how
to get help, the error), in German.
"""

from __future__ import annotations

import re

import click
from click.exceptions import NoArgsIsHelpError

# Click's message ids (exact, including Click's placeholders) → German. A German
# text quotes user input with „…“ instead of Click's {value!r}.
_CATALOGUE = {
    # help
    "Usage:": "Aufruf:",
    "Options": "Optionen",
    "Commands": "Befehle",
    "Positional arguments": "Argumente",
    "Show this message and exit.": "Diese Hilfe anzeigen und beenden.",
    "Show the version and exit.": "Version anzeigen.",
    "%(prog)s, version %(version)s": "%(prog)s, Version %(version)s",
    "env var: {var}": "Umgebungsvariable: {var}",
    "default: {default}": "Vorgabe: {default}",
    "required": "erforderlich",
    "(dynamic)": "(dynamisch)",
    "deprecated": "veraltet",
    "DeprecationWarning: The command {name!r} is deprecated.{extra_message}":
        "Hinweis: Der Befehl „{name}“ ist veraltet.{extra_message}",
    "DeprecationWarning: The {param_type} {name!r} is deprecated.{extra_message}":
        "Hinweis: {param_type} „{name}“ ist veraltet.{extra_message}",
    # errors and their frame
    "Error: {message}": "Fehler: {message}",
    "Try '{command} {option}' for help.": "Hilfe: {command} {option}",
    "Aborted!": "Abgebrochen.",
    "Invalid value: {message}": "Ungültiger Wert: {message}",
    "Invalid value for {param_hint}: {message}": "Ungültiger Wert für {param_hint}: {message}",
    "Missing argument": "Fehlendes Argument",
    "Missing option": "Fehlende Option",
    "Missing parameter": "Fehlende Angabe",
    "Missing {param_type}": "Fehlende Angabe ({param_type})",
    "Missing parameter: {param_name}": "Fehlende Angabe: {param_name}",
    "Missing command.": "Befehl fehlt.",
    "No such option {name!r}.": "Unbekannte Option: {name}",
    "No such command {name!r}.": "Unbekannter Befehl „{name}“.",
    "Option {name!r} does not take a value.": "Die Option „{name}“ nimmt keinen Wert an.",
    "Argument {name!r} takes {nargs} values.": "Das Argument „{name}“ braucht {nargs} Werte.",
    "Value must be an iterable.": "Der Wert muss eine Liste sein.",
    "unknown error": "unbekannter Fehler",
    "Could not open file {filename!r}: {message}": "Datei „{filename}“ lässt sich nicht öffnen: {message}",
    # parameter types
    "file": "Datei",
    "directory": "Ordner",
    "path": "Pfad",
    "{name} {filename!r} does not exist.": "{name} „{filename}“ existiert nicht.",
    "{name} {filename!r} is a file.": "{name} „{filename}“ ist eine Datei.",
    "{name} {filename!r} is a directory.": "{name} „{filename}“ ist ein Ordner.",
    "{name} {filename!r} is not readable.": "{name} „{filename}“ ist nicht lesbar.",
    "{name} {filename!r} is not writable.": "{name} „{filename}“ ist nicht beschreibbar.",
    "{name} {filename!r} is not executable.": "{name} „{filename}“ ist nicht ausführbar.",
    "{value!r} is not a valid {number_type}.": "„{value}“ ist keine gültige {number_type}.",
    "{value} is not in the range {range}.": "{value} liegt nicht im erlaubten Bereich {range}.",
    "{value!r} is not a valid boolean. Recognized values: {states}":
        "„{value}“ ist kein gültiger Wahrheitswert. Erlaubt sind: {states}",
    "{value!r} is not a valid UUID.": "„{value}“ ist keine gültige UUID.",
    "Choose from:\n\t{choices}": "Zur Auswahl:\n\t{choices}",
    # prompts
    "Do you want to continue?": "Fortfahren?",
    "Confirm the action without prompting.": "Ohne Rückfrage bestätigen.",
    "Repeat for confirmation": "Zur Bestätigung wiederholen",
    "Error: The two entered values do not match.": "Fehler: Die beiden Eingaben stimmen nicht überein.",
    "Error: invalid input": "Fehler: ungültige Eingabe",
    "Press any key to continue...": "Weiter mit einer beliebigen Taste …",
}

# Singular message id → (German singular, German plural).
_PLURALS = {
    "Did you mean {possibility}?":
        ("Meinten Sie {possibility}?", "Meinten Sie eine davon: {possibilities}?"),
    "Got unexpected extra argument ({args})":
        ("Unerwartetes zusätzliches Argument: {args}", "Unerwartete zusätzliche Argumente: {args}"),
    "Takes {nargs} values but 1 was given.":
        ("Erwartet {nargs} Werte, angegeben wurde 1.", "Erwartet {nargs} Werte, angegeben wurden {len}."),
    "Option {name!r} requires an argument.":
        ("Die Option „{name}“ braucht einen Wert.", "Die Option „{name}“ braucht {nargs} Werte."),
    "{value!r} is not {choice}.":
        ("„{value}“ ist nicht {choice}.", "„{value}“ ist keiner der Werte {choices}."),
    "{value!r} does not match the format {format}.":
        ("„{value}“ passt nicht zum Format {format}.", "„{value}“ passt zu keinem der Formate {formats}."),
    "{len_type} values are required, but {len_value} was given.":
        ("{len_type} Werte sind nötig, angegeben wurde {len_value}.",
         "{len_type} Werte sind nötig, angegeben wurden {len_value}."),
}

# Words Click fills into a message (type and parameter kinds), by placeholder.
_TERMS = {
    "integer": "ganze Zahl", "integer range": "ganze Zahl", "float": "Zahl", "float range": "Zahl",
    "option": "Option", "argument": "Argument", "parameter": "Angabe",
}
_TERM_PLACEHOLDERS = {"number_type", "param_type"}
# Placeholders Click fills with repr()-quoted lists ('a', 'b'); re-quoted „a“, „b“.
_QUOTED_PLACEHOLDERS = {"choice", "choices", "possibility", "possibilities"}
_REPR_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")

# Click modules that import ``_``/``ngettext`` and show texts to users. Left out:
# _termui_impl (click.edit), shell_completion, _winconsole: imported only on use.
_CLICK_MODULES = ("core", "decorators", "exceptions", "formatting", "parser", "termui", "types", "utils")


def _german_quotes(text: str) -> str:
    return _REPR_QUOTED.sub(lambda m: f"„{m.group(1) if m.group(1) is not None else m.group(2)}“", text)


class _Message(str):
    """A German message whose ``format`` also translates the words Click fills in."""

    def format(self, *args, **kwargs):
        for key, value in kwargs.items():
            if isinstance(value, str):
                if key in _TERM_PLACEHOLDERS:
                    kwargs[key] = _TERMS.get(value, value)
                elif key in _QUOTED_PLACEHOLDERS:
                    kwargs[key] = _german_quotes(value)
        return str(self).format(*args, **kwargs)


def gettext(message: str) -> str:
    """The German text for one of Click's message ids; unknown ids stay as they are."""
    german = _CATALOGUE.get(message)
    return message if german is None else _Message(german)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The German singular or plural for one of Click's message ids."""
    german = _PLURALS.get(singular)
    if german is None:
        return singular if n == 1 else plural
    return _Message(german[0] if n == 1 else german[1])


def install() -> None:
    """Make Click look its messages up in the German catalogue (idempotent).

    Must run before commands are declared: ``click.Path`` names its kind
    (Datei, Ordner) when it is created.
    """
    import importlib

    for name in _CLICK_MODULES:
        module = importlib.import_module(f"click.{name}")
        if hasattr(module, "_"):
            module._ = gettext
        if hasattr(module, "ngettext"):
            module.ngettext = ngettext


# Value placeholders in help ("-j, --jobs ZAHL") for Click types that name none in German.
_TYPE_METAVARS = {"integer": "ZAHL", "integer range": "ZAHL", "float": "ZAHL", "float range": "ZAHL"}


def name_option_values(params: list[click.Parameter]) -> None:
    """Give options of a numeric type a German value placeholder, unless they have one."""
    for param in params:
        if isinstance(param, click.Option) and param.metavar is None and not param.is_flag:
            param.metavar = _TYPE_METAVARS.get(param.type.name)


def _param_name(param: click.Parameter) -> str:
    """An argument by its upper-case name (MANIFEST), an option by its flags („-j“ / „--jobs“)."""
    if isinstance(param, click.Argument):
        return param.human_readable_name.rstrip(".")  # DATEIEN, not the usage line's DATEIEN...
    return " / ".join(f"„{opt}“" for opt in param.opts) or f"„{param.human_readable_name}“"


def _hint(exc: click.BadParameter) -> str | None:
    if exc.param_hint is not None:
        hints = [exc.param_hint] if isinstance(exc.param_hint, str) else list(exc.param_hint)
        return " / ".join(f"„{h}“" for h in hints)
    if exc.param is not None:
        return _param_name(exc.param)
    return None


def _missing_message(exc: click.MissingParameter) -> str:
    kind = exc.param_type or (exc.param.param_type_name if exc.param is not None else "parameter")
    what = {"argument": "Pflichtargument", "option": "Pflichtoption"}.get(kind, "Pflichtangabe")
    hint = _hint(exc)
    text = f"{what} {hint} fehlt." if hint else f"{what} fehlt."
    extras = [exc.message] if exc.message else []
    if exc.param is not None:
        extra = exc.param.type.get_missing_message(param=exc.param, ctx=exc.ctx)
        if extra:
            extras.append(extra)
    return " ".join([text, *extras])


def error_message(exc: click.ClickException) -> str:
    """The German text of a Click error, without the "Fehler: " prefix."""
    if isinstance(exc, click.MissingParameter):
        return _missing_message(exc)
    if isinstance(exc, click.BadParameter):
        hint = _hint(exc)
        if hint is None:
            return gettext("Invalid value: {message}").format(message=exc.message)
        return gettext("Invalid value for {param_hint}: {message}").format(param_hint=hint, message=exc.message)
    if isinstance(exc, (click.NoSuchOption, click.exceptions.NoSuchCommand)) and exc.possibilities:
        quoted = ", ".join(f"„{p}“" for p in sorted(exc.possibilities))
        suggestion = ngettext("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)",
                              len(exc.possibilities)).format(possibility=quoted, possibilities=quoted)
        return f"{exc.message.rstrip('.')}. {suggestion}"
    return exc.format_message()


def show_error(exc: click.ClickException) -> None:
    """Print a Click error to stderr in German; a usage error with the usage line and how to get help."""
    if isinstance(exc, NoArgsIsHelpError):
        click.echo(exc.format_message(), err=True, color=exc.ctx.color)
        return
    color = None
    ctx = exc.ctx if isinstance(exc, click.UsageError) else None
    if ctx is not None:
        color = ctx.color
        lines = [ctx.get_usage()]
        if ctx.command.get_help_option(ctx) is not None:
            option = max(ctx.command.get_help_option_names(ctx), key=len)
            lines.append(gettext("Try '{command} {option}' for help.").format(command=ctx.command_path, option=option))
        click.echo("\n".join(lines) + "\n", err=True, color=color)
    click.echo(gettext("Error: {message}").format(message=error_message(exc)), err=True, color=color)
