"""`--config FILE`: any long option of an argparse parser, from a TOML file.

Generic over the parser, so an option added to it can come from the file with no code
here: a top-level key is a long option's name (`port = 8080`, `tls-cert = "..."`;
underscores for dashes accepted), its value goes through the option's own type
function and choices, and the command line wins. A wrong key or value is one line
naming it. Reads one file; nothing runs at import.
"""

from __future__ import annotations

import argparse
import inspect
import tomllib
from collections.abc import Sequence
from typing import Any

_UNSET = object()


class ConfigError(Exception):
    """A key or value of the config file that cannot be used; one line, naming it."""


def parse_with_config(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    *,
    option: str = "--config",
    sources: dict[str, str] | None = None,
) -> argparse.Namespace:
    """Parse `argv` with `parser`, taking what the command line leaves unset from the
    TOML file that `option` names (the option must be one of the parser's). A bad file
    exits with status 2 and one line, as argparse does for a bad flag. `sources`, if
    given, gets the file's path for each option (by dest) whose value came from it, so a
    later check of that value can name the file."""
    actions = [a for a in parser._actions if a.dest != argparse.SUPPRESS]
    # An appending option (--oper) appends to what it finds: an empty list of its own.
    unset = {a.dest: [] if isinstance(a, argparse._AppendAction) else _UNSET for a in actions}
    probe = argparse.Namespace(**unset)
    parser.parse_args(argv, probe)  # which options the command line gives (exits if bad)
    path = getattr(probe, parser._option_string_actions[option].dest)
    if path is _UNSET or path is None:
        return parser.parse_args(argv)
    given = {dest for dest, value in vars(probe).items() if value is not unset[dest]}
    try:
        defaults = file_defaults(parser, str(path), given, option)
    except ConfigError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    if sources is not None:
        sources.update(dict.fromkeys(defaults, str(path)))
    # Given as a namespace, not set_defaults(): argparse would run a string default
    # through its type function a second time.
    return parser.parse_args(argv, argparse.Namespace(**defaults))


def load(path: str) -> dict[str, Any]:
    """The file's table, or ConfigError."""
    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {(exc.strerror or str(exc)).lower()}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None


def file_defaults(
    parser: argparse.ArgumentParser, path: str, given: set[str], option: str = "--config"
) -> dict[str, Any]:
    """The file's values as parser defaults, by dest: checked and converted as the
    command line's would be, leaving out what the command line gives (and the other
    members of a mutually exclusive group it gives one of)."""
    table = load(path)
    excluded = set(given)
    for group in parser._mutually_exclusive_groups:
        dests = {a.dest for a in group._group_actions}
        if dests & given:
            excluded |= dests
    defaults: dict[str, Any] = {}
    for key, value in table.items():
        flag = "--" + key.replace("_", "-")
        action = parser._option_string_actions.get(flag)
        is_command = action is not None and action.dest in ("help", "hash_password")
        if action is None or flag == option or is_command or not key[:1].isalpha():
            raise ConfigError(f"{path}: unknown option {key!r} (see --help for the options)")
        try:
            converted = _value(action, flag, value)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {key}: {exc}") from None
        if action.dest not in excluded:
            defaults[action.dest] = converted
    return defaults


def _value(action: argparse.Action, flag: str, value: Any) -> Any:
    """What the command line would have made of this option with this value."""
    if action.nargs == 0:  # a flag: true or false
        if not isinstance(value, bool):
            raise ConfigError(f"expected true or false, not {_kind(value)}")
        if isinstance(action, argparse.BooleanOptionalAction):
            return value if not flag.startswith("--no-") else not value
        return action.const if value else action.default
    if isinstance(value, list):
        if action.nargs not in ("*", "+") and not isinstance(action, argparse._AppendAction):
            raise ConfigError(f"expected one value, not {_kind(value)}")
        return [_one(action, item) for item in value]
    return _one(action, value)


def _one(action: argparse.Action, value: Any) -> Any:
    from_table = getattr(action.type, "from_table", None)
    if isinstance(value, dict) and from_table is not None:  # a table: [[oper]]
        try:
            return from_table(value)
        except argparse.ArgumentTypeError as exc:
            raise ConfigError(str(exc)) from None
    wanted = _expected(action)
    fits = isinstance(value, int | float) if wanted is float else isinstance(value, wanted)
    if isinstance(value, bool) or not fits:
        names = {str: "a string", int: "an integer", float: "a number"}
        raise ConfigError(f"expected {names[wanted]}, not {_kind(value)}")
    convert = action.type if callable(action.type) else str
    try:
        result = convert(str(value))
    except argparse.ArgumentTypeError as exc:
        raise ConfigError(str(exc)) from None
    except (TypeError, ValueError):
        raise ConfigError(f"invalid value {value!r}") from None
    if action.choices is not None and result not in action.choices:
        choices = ", ".join(map(repr, action.choices))
        raise ConfigError(f"{value!r} is not one of {choices}")
    return result


def _expected(action: argparse.Action) -> type:
    """The TOML type an option takes: a number for int and float options (by the type
    function, or what it is annotated to return), a string for everything else."""
    kind = action.type
    if kind in (int, float):
        return float if kind is float else int
    if callable(kind):
        try:
            returns = inspect.signature(kind).return_annotation
        except (TypeError, ValueError):
            return str
        if returns in (int, "int"):
            return int
        if returns in (float, "float"):
            return float
    return str


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    names = {str: "a string", int: "an integer", float: "a number", list: "a list"}
    return names.get(type(value), "a table" if isinstance(value, dict) else type(value).__name__)
