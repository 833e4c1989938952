"""The rules of a room's modes: who may enter, how one change is applied, keys,
limits, ban lists and who they silence.

Functions over a Room, called only by the registry (rooms.py), which owns the room:
`apply_change` is the one place a mode changes, for a local operator's change and
for one another server of a cluster made alike. No events, no lock, no I/O here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from registry.errors import BadKey, Banned, InviteOnly, RoomFull
from registry.masks import MUTE_BAN, Change, complete, entry_matches, mask_problem
from registry.room import Listed, Member, Room, _listed, is_banned, is_silenced
from utils import name_key


@dataclass(frozen=True, slots=True)
class Refusal:
    """A mode change that was not made: `why` is "no-such-user", "not-there",
    "bad-key", "bad-limit", "bad-mask" or "list-full"; `detail` words it."""

    change: Change
    why: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Limits:
    """What a local operator's change is checked against."""

    max_key_chars: int
    max_mask_chars: int
    max_list_masks: int


def admit(room: Room, member: Member, key: str) -> None:
    """Let the member in, or say why not: Banned (a ban and no exception),
    InviteOnly (+i: no invitation, no invite exception), BadKey (+k), RoomFull
    (+l). An operator's invitation lets in past +i, +k and +l, not past a ban."""
    if is_banned(room, member):
        raise Banned(room.name)
    if member in room.invited:
        return
    if "i" in room.modes and not _listed(room, "I", member):
        raise InviteOnly(room.name)
    if room.join_key and key != room.join_key:
        raise BadKey(room.name)
    if room.limit and len(room.members) >= room.limit:
        raise RoomFull(room.name, room.limit)


def apply_change(
    room: Room,
    change: Change,
    setter: str,
    now: float,
    find: Callable[[str], Member | None],
    limits: Limits | None,
) -> Change | Refusal | None:
    """Make one change to a room's modes. Returns what was done (as the room is told),
    why not (a Refusal), or None (nothing to do: the mode was already so). `setter` is
    the setter's mask (list entries note it). With `limits` None the change is one
    another server of a cluster made: applied as told, unchecked."""
    sign, letter, arg = change.sign, change.letter, change.arg
    on = sign == "+"
    if letter in "ov":
        target = find(arg)
        if target is None:
            return Refusal(change, "no-such-user")
        if room not in target.rooms:
            return Refusal(change, "not-there", target.name)
        group = room.ops if letter == "o" else room.voiced
        if (target in group) == on:
            return None
        if letter == "o":
            (room.ops.add if on else room.ops.discard)(target)
        else:
            room.set_voiced(target, on)
        return Change(sign, letter, target.name)
    if limits is None:
        return _as_told(room, change, setter, now)
    if letter in "beI":
        return _change_list(room, change, setter, now, limits)
    if letter == "k":
        if not on:
            if not room.join_key:
                return None
            room.join_key = ""
            return Change("-", "k", "*")
        problem = key_problem(arg, limits.max_key_chars)
        if problem:
            return Refusal(change, "bad-key", problem)
        room.join_key = arg
        return change
    if letter == "l":
        if not on:
            if not room.limit:
                return None
            room.limit = 0
            return change
        limit = int(arg) if arg.isascii() and arg.isdigit() else 0
        if not 0 < limit <= 1_000_000:
            return Refusal(change, "bad-limit", "must be a number from 1 to 1000000")
        room.limit = limit
        return Change("+", "l", str(limit))
    if (letter in room.modes) == on:
        return None
    (room.modes.add if on else room.modes.discard)(letter)
    return Change(sign, letter)


def _change_list(
    room: Room, change: Change, setter: str, now: float, limits: Limits
) -> Change | Refusal | None:
    listed = room.lists[change.letter]
    problem = mask_problem(change.arg, limits.max_mask_chars)
    if problem:
        return Refusal(change, "bad-mask", problem)
    mask = complete(change.arg)
    if change.letter == "I" and mask[:2] == MUTE_BAN:
        return Refusal(change, "bad-mask", "a mute (m:) is a ban or an exception")
    key = name_key(mask)
    found = next((entry for entry in listed if name_key(entry.mask) == key), None)
    if change.sign == "-":
        if found is None:
            return None
        listed.remove(found)
        return Change("-", change.letter, found.mask)
    if found is not None:
        return None
    if len(listed) >= limits.max_list_masks:
        return Refusal(change, "list-full", str(limits.max_list_masks))
    listed.append(Listed(mask, setter, now))
    return Change("+", change.letter, mask)


def _as_told(room: Room, change: Change, setter: str, now: float) -> Change:
    """A change another server made and checked: the newest word on a list entry
    replaces the older, a key or limit is taken as given."""
    sign, letter, arg = change.sign, change.letter, change.arg
    on = sign == "+"
    if letter in "beI":
        listed = room.lists[letter]
        key = name_key(arg)
        listed[:] = [e for e in listed if name_key(e.mask) != key]
        if on:
            listed.append(Listed(arg, setter, now))
    elif letter == "k":
        room.join_key = arg if on else ""
    elif letter == "l":
        room.limit = int(arg) if on and arg.isdigit() else 0
    else:
        (room.modes.add if on else room.modes.discard)(letter)
    return change


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
    """Who the room's bans and mutes silence after one change of a ban or an exception:
    only the members that one mask matches are looked at again (a room may be large)."""
    mask = change.arg
    for m in room.members:
        if entry_matches(mask, m.name, m.user, m.host, m.account):
            room.set_muted(m, is_silenced(room, m))


def ban_masks(member: Member) -> tuple[str, ...]:
    """What banning a connected user by name bans: its name only. Others may share its
    address (a home, an office, a bouncer): an address ban is asked for by its mask
    (`address_mask` words one)."""
    return (f"{member.name}!*@*",)
