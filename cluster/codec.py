"""Events to JSON and back, generic over the dataclasses of events.py.

Every kind in `events.Event` crosses with no code of its own, in one of two shapes:
- `encode`/`decode`: a dict of its fields plus "t", its class name. What is kept
  (history in Redis) uses it: a field added later leaves old entries readable.
- `pack`/`unpack`: a list, the class name then the fields in order, for the bus: a
  third of the size and four times as fast as the dict (measured: 2.1 against 7.9 µs to
  pack and dump a line, 1.3 against 4.6 µs to load and unpack it). Every node of a
  cluster must run the same events; `SCHEMA` names them, and a batch is checked against
  it before its lists are read.
A tuple field comes back a tuple. Nothing else crosses.
"""

from __future__ import annotations

import dataclasses
import hashlib
import typing
from operator import attrgetter
from typing import Any

from registry import Event, events

KINDS: dict[str, type[Any]] = {kind.__name__: kind for kind in typing.get_args(events.Event)}
_TUPLES: dict[str, frozenset[str]] = {
    name: frozenset(f.name for f in dataclasses.fields(kind) if str(f.type).startswith("tuple"))
    for name, kind in KINDS.items()
}

_FIELDS: dict[type[Any], tuple[str, ...]] = {
    kind: tuple(f.name for f in dataclasses.fields(kind)) for kind in KINDS.values()
}
_GET = {kind: attrgetter(*names) for kind, names in _FIELDS.items()}
_TUPLE_AT: dict[str, tuple[int, ...]] = {
    name: tuple(i for i, f in enumerate(_FIELDS[kind]) if f in _TUPLES[name])
    for name, kind in KINDS.items()
}
# The events' names and fields, in order: nodes agree on `pack`'s lists only if equal.
SCHEMA = hashlib.sha256(
    repr(sorted((name, _FIELDS[kind]) for name, kind in KINDS.items())).encode()
).hexdigest()[:12]


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


def pack(event: Event) -> list[Any]:
    kind = type(event)
    values = _GET[kind](event)
    return [kind.__name__, *values] if isinstance(values, tuple) else [kind.__name__, values]


def unpack(data: list[Any]) -> Event:
    kind = KINDS.get(data[0]) if data and isinstance(data[0], str) else None
    if kind is None:
        raise CodecError(f"unknown event kind {data[:1]!r}")
    values = data[1:]
    for at in _TUPLE_AT[kind.__name__]:
        if at < len(values) and isinstance(values[at], list):
            values[at] = tuple(values[at])
    try:
        event: Event = kind(*values)
    except TypeError as exc:
        raise CodecError(str(exc)) from None
    return event
