"""Events to JSON and back, generic over the dataclasses of events.py.

Every kind in `events.Event` crosses with no code of its own: a dict of its fields
plus "t", its class name. A tuple field comes back a tuple. Nothing else crosses.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import events
from events import Event

KINDS: dict[str, type[Any]] = {kind.__name__: kind for kind in typing.get_args(events.Event)}
_TUPLES: dict[str, frozenset[str]] = {
    name: frozenset(f.name for f in dataclasses.fields(kind) if str(f.type).startswith("tuple"))
    for name, kind in KINDS.items()
}


class CodecError(ValueError):
    """What came over the bus is not an event."""


def encode(event: Event) -> dict[str, Any]:
    fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    fields["t"] = type(event).__name__
    return fields


def decode(data: dict[str, Any]) -> Event:
    fields = dict(data)
    name = fields.pop("t", None)
    kind = KINDS.get(name) if isinstance(name, str) else None
    if kind is None:
        raise CodecError(f"unknown event kind {name!r}")
    for field in _TUPLES[kind.__name__]:
        if field in fields:
            fields[field] = tuple(fields[field])
    try:
        event: Event = kind(**fields)
    except TypeError as exc:
        raise CodecError(str(exc)) from None
    return event
