"""The optional extras (pyproject.toml's optional-dependencies): an option that needs one
that is not installed stops the server with one line saying how to install it.

The server itself needs none: an extra's package is looked for (never imported) here,
and imported only where the option that needs it is used.
"""

from __future__ import annotations

import argparse
import importlib.util
from typing import NoReturn


def missing_extra(parser: argparse.ArgumentParser, flag: str, what: str, extra: str) -> NoReturn:
    """An option whose optional extra is not installed: one line saying how to install it
    (not a usage mistake, so no pointer to --help)."""
    parser.exit(
        2,
        f"{parser.prog}: error: {flag} needs {what}: pip install 'chatroom[{extra}]' "
        f"(in a checkout: pip install '.[{extra}]')\n",
    )


def require_extra(
    parser: argparse.ArgumentParser, module: str, flag: str, what: str, extra: str
) -> None:
    """Exit with missing_extra() unless `module` can be imported."""
    if importlib.util.find_spec(module) is None:
        missing_extra(parser, flag, what, extra)
