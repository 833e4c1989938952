"""What the text door replays to a user who comes back (doors/text/catchup.py): the
WHEN of `/replay since`, the unread line in the frame, and the command itself."""

from __future__ import annotations

import calendar

import pytest

from doors.text.catchup import parse_when
from doors.text.render import framed
from registry.events import Said
from rooms import RoomManager
from tests.unit.test_session import NOON, named

UTC_NOON = calendar.timegm((2026, 11, 30, 12, 0, 0))


@pytest.mark.parametrize(
    ("when", "ms"),
    [
        ("2026-11-30T12:00:00.250Z", UTC_NOON * 1000 + 250),
        ("2026-11-30T12:00:00Z", UTC_NOON * 1000),
        ("2026-11-30T13:00:00+01:00", UTC_NOON * 1000),
        ("90s", (UTC_NOON - 90) * 1000),
        ("15m", (UTC_NOON - 900) * 1000),
        ("2h", (UTC_NOON - 7200) * 1000),
        ("1d", (UTC_NOON - 86400) * 1000),
        ("999999999d", 0),  # at the earliest, the epoch
        ("1900-01-01T00:00:00Z", 0),
    ],
)
def test_when_is_a_utc_time_or_an_age(when: str, ms: int) -> None:
    assert parse_when(when, UTC_NOON) == ms


@pytest.mark.parametrize("when", ["yesterday", "90", "-5m", "1w", "12:00", "2026-13-01T00:00Z"])
def test_anything_else_is_no_when(when: str) -> None:
    with pytest.raises(ValueError):
        parse_when(when, UTC_NOON)


def test_the_unread_line_goes_before_the_first_unread_message_and_counts_them() -> None:
    events = [Said("bob", f"m{i}", NOON, "den") for i in range(3)]
    lines = framed("den", list(events), NOON, unread_at=1)
    assert lines[0] == "* History of den (3 messages)"
    assert lines[2] == "* New since you last read: 2 messages"
    assert lines[1].endswith("<bob> m0") and lines[3].endswith("<bob> m1")
    assert framed("den", list(events), NOON, unread_at=3) == framed("den", list(events), NOON)
    assert framed("den", [], NOON, unread_at=0) == []


async def test_replay_since_says_when_the_next_join_replays_from() -> None:
    rooms = RoomManager(clock=lambda: UTC_NOON, defer=lambda flush: flush())
    user = await named(rooms, "alice")
    assert await user.say("/replay since 2h") == [
        "* The next room you join replays what was said there since 2026-11-30T10:00:00.000Z.",
        "Enter your choice:",
    ]
    assert user.session.since == (UTC_NOON - 7200) * 1000
    refused = await user.say("/replay since", "/replay off now")
    assert (
        refused[0]
        == refused[2]
        == (
            "! Usage: /replay [on|off|since WHEN], WHEN a time (2026-12-01T10:20:30.000Z, UTC) "
            "or an age (90s, 15m, 2h, 1d)"
        )
    )
