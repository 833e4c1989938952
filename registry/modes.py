"""The rules of a room's modes: keys, limits, ban lists and who they silence.

Pure functions over a Room; the registry (rooms.py) applies changes with them.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry.masks import Change, address_mask, matches
from registry.room import Member, Room, _listed, is_banned


@dataclass(frozen=True, slots=True)
class Refusal:
    """A mode change that was not made: `why` is "no-such-user", "not-there",
    "bad-key", "bad-limit", "bad-mask" or "list-full"; `detail` words it."""

    change: Change
    why: str
    detail: str = ""


def key_problem(key: str, max_chars: int) -> str | None:
    """Why a room key cannot be set, or None."""
    if not key or not key.strip():
        return "empty"
    if len(key) > max_chars:
        return f"longer than {max_chars} characters"
    if " " in key or "," in key or not key.isprintable():
        return "contains a space, a comma or a control character"
    return None


def remute_room(room: Room, change: Change) -> None:
    """Who the room's bans silence after one change of a ban or an exception: only the
    members that one mask matches are looked at again (a room may be large)."""

    def hit(m: Member) -> bool:
        return matches(change.arg, m.name, m.user, m.host)

    if change.letter == "b" and change.sign == "+":
        room.muted |= {
            m for m in room.members if m not in room.muted and hit(m) and not _listed(room, "e", m)
        }
    elif change.letter == "b":
        room.muted -= {m for m in room.muted if hit(m) and not is_banned(room, m)}
    elif change.sign == "+":
        room.muted -= {m for m in room.muted if hit(m)}
    else:
        room.muted |= {m for m in room.members if hit(m) and is_banned(room, m)}


def ban_masks(member: Member) -> tuple[str, str]:
    """What banning a connected user bans: its name, and its address."""
    return f"{member.name}!*@*", address_mask(member.host)
