"""cluster/codec.py: every kind of event crosses the bus and comes back equal."""

from __future__ import annotations

import dataclasses
import json
import typing

import pytest

from registry import events
from tests.rigs.clusterrig import needs_redis

pytestmark = needs_redis()


def example(kind: type[typing.Any]) -> typing.Any:
    values: dict[str, typing.Any] = {}
    for n, field in enumerate(dataclasses.fields(kind)):
        kind_of = str(field.type)
        if kind_of.startswith("tuple"):
            values[field.name] = ("a", f"b{n}")
        elif kind_of == "float":
            values[field.name] = 1.5 + n
        elif kind_of == "bool":
            values[field.name] = True
        else:
            values[field.name] = f"v{n} ünïcode"
    return kind(**values)


@pytest.mark.parametrize("kind", typing.get_args(events.Event), ids=lambda k: k.__name__)
def test_every_event_kind_round_trips_through_json(kind: type[typing.Any]) -> None:
    from cluster.codec import decode, encode

    event = example(kind)
    assert decode(json.loads(json.dumps(encode(event)))) == event


@pytest.mark.parametrize("kind", typing.get_args(events.Event), ids=lambda k: k.__name__)
def test_every_event_kind_round_trips_packed(kind: type[typing.Any]) -> None:
    from cluster.codec import pack, unpack

    event = example(kind)
    assert unpack(json.loads(json.dumps(pack(event)))) == event


def test_what_is_not_a_packed_event_is_refused() -> None:
    from cluster.codec import CodecError, unpack

    for bad in ([], ["Nope"], [1, 2], ["Said"], ["Said", *range(20)]):
        with pytest.raises(CodecError):
            unpack(bad)


def test_what_is_not_an_event_is_refused() -> None:
    from cluster.codec import CodecError, decode

    for bad in ({"t": "Nope"}, {"name": "x"}, {"t": "Said", "bogus": 1}):
        with pytest.raises(CodecError):
            decode(bad)
