"""The text door's moderation commands: /op /deop /voice /devoice /kick /ban /unban
/bans /invite /mode. The command table (commands.py) holds their usage, which /help
lists.

The rules are the registry's (RoomManager.change_modes, kick, invite), the same as
the IRC door's MODE, KICK and INVITE; here each command is parsed and its answer
worded (docs/protocol.md, "Moderation").
"""

from __future__ import annotations

import time

import registry as r
from doors.text.conversation import Conversation, Result
from registry.masks import MUTE_BAN, Change, complete, entry_matches, parse_changes
from utils import UserError, name_key

LIST_NAMES = {"b": "ban list", "e": "exception list", "I": "invite-exception list"}
NO_LINES = {  # an empty list, as /bans and /mode +b say it
    "b": "* {room} has no bans.",
    "e": "* {room} has no ban exceptions (+e).",
    "I": "* {room} has no invite exceptions (+I).",
}
LIST_LINES = {  # how /bans words each kind of entry
    "b": "{room} bans {mask}",
    "e": "{room} lets {mask} in despite its bans (+e)",
    "I": "{room} lets {mask} in without an invitation (+I)",
    "mb": "{room} mutes {mask} (m:)",  # a mute, MUTE_BAN
    "me": "{room} lets {mask} speak despite its mutes (+e m:)",
}


def apply(
    s: Conversation, room: r.Room, changes: list[Change], target: r.Member | None = None
) -> list[Change]:
    """Make the changes through the registry; word each refusal as a `! ` line, and
    name the members each new ban matches besides `target`, so a too-wide one shows
    at once. Returns what was done."""
    return _apply(s, room, changes, target)[0]


def _apply(
    s: Conversation, room: r.Room, changes: list[Change], target: r.Member | None = None
) -> tuple[list[Change], list[r.Refusal]]:
    done, refused = s.rooms.change_modes(s.require_member(), room, changes)
    for refusal in refused:
        s.say(f"! {_refusal(room, refusal)}")
    for change in done:
        if change.sign == "+" and change.letter == "b":
            hit = [
                m.name
                for m in sorted(room.members, key=lambda m: name_key(m.name))
                if m is not target and entry_matches(change.arg, m.name, m.user, m.host, m.account)
            ]
            if hit:
                count = f"{len(hit)} member" + ("s" if len(hit) > 1 else "")
                s.say(f"* {change.arg} matches {count} of {room.name}: {', '.join(hit)}")
    return done, refused


def _refusal(room: r.Room, refusal: r.Refusal) -> str:
    change, why = refusal.change, refusal.why
    if why == "no-such-user":
        return f'No user named "{change.arg}".'
    if why == "not-there":
        return f"{refusal.detail} is not in {room.name}."
    if why == "list-full":
        return f"The {LIST_NAMES[change.letter]} of {room.name} is full ({refusal.detail} masks)."
    if why == "bad-mask":
        return f'Invalid mask "{change.arg}": {refusal.detail}.'
    what = "key" if change.letter == "k" else "limit"
    return f"Invalid {what}: {refusal.detail}."


def _status(s: Conversation, arg: str, name: str, sign: str, letter: str) -> None:
    room = s.require_room()
    target = s.needs(arg, name)
    change = Change(sign, letter, target)
    if not apply(s, room, [change]) and target:
        found = s.rooms.find(target)
        if found is not None and room in found.rooms:
            has = "is" if sign == "+" else "is not"
            what = "an operator" if letter == "o" else "voiced"
            s.say(f"* {found.name} {has} {what} in {room.name} already.")


def op(s: Conversation, arg: str) -> None:
    _status(s, arg, "op", "+", "o")


def deop(s: Conversation, arg: str) -> None:
    _status(s, arg, "deop", "-", "o")


def voice(s: Conversation, arg: str) -> None:
    _status(s, arg, "voice", "+", "v")


def devoice(s: Conversation, arg: str) -> None:
    _status(s, arg, "devoice", "-", "v")


def kick(s: Conversation, arg: str) -> Result:
    room = s.require_room()
    name, _, reason = s.needs(arg, "kick").partition(" ")
    return _kick_one(s, room, name, reason.strip()[: s.config.max_topic_chars])


async def _kick_one(s: Conversation, room: r.Room, name: str, reason: str) -> None:
    await s.rooms.kick(s.require_member(), room, name, reason)


def _looks_like_mask(text: str) -> bool:
    return any(c in text for c in "!@*?:")  # `:`: a:ACCOUNT, m:MASK (no name has one)


def ban(s: Conversation, arg: str) -> Result:
    """`/ban NAME` bans the name only; an address or any wider ban is asked for by mask."""
    room = s.require_room()
    arg = s.needs(arg, "ban")
    target = None if _looks_like_mask(arg) else s.rooms.find(arg)
    masks = r.ban_masks(target) if target is not None else (arg,)
    done = apply(s, room, [Change("+", "b", mask) for mask in masks], target)
    listed = {entry.mask for entry in room.lists["b"]}
    if not done and all(complete(mask) in listed for mask in masks):
        s.say(f"* {room.name} bans {', '.join(complete(m) for m in masks)} already.")
    if target is not None and room in target.rooms:
        return _kick_one(s, room, target.name, "banned")
    return None


def unban(s: Conversation, arg: str) -> None:
    room = s.require_room()
    arg = s.needs(arg, "unban")
    target = None if _looks_like_mask(arg) else s.rooms.find(arg)
    if target is not None:
        masks = [
            entry.mask
            for entry in room.lists["b"]
            if entry_matches(entry.mask, target.name, target.user, target.host, target.account)
        ]
    else:
        masks = [arg]
    if not apply(s, room, [Change("-", "b", mask) for mask in masks]):
        raise UserError(f'No ban of {room.name} matches "{arg}".')


def bans(s: Conversation, arg: str) -> None:
    room = s.require_room()
    show_lists(s, room, "beI")


def show_lists(s: Conversation, room: r.Room, letters: str) -> None:
    """The entries of the lists named by `letters`; for an empty list, its NO_LINES line
    (`/bans`, all three empty: `* ROOM has no bans.`)."""
    if letters == "beI" and not any(room.lists[letter] for letter in letters):
        letters = "b"
    for letter in letters:
        if not room.lists[letter]:
            s.say(NO_LINES[letter].format(room=room.name))
        for entry in room.lists[letter]:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.ts))
            mask, kind = entry.mask, letter
            if mask[:2] == MUTE_BAN:
                mask, kind = mask[2:], "m" + letter
            head = LIST_LINES[kind].format(room=room.name, mask=mask)
            s.say(f"* {head} (set by {entry.by.split('!')[0]} at {when})")


def invite(s: Conversation, arg: str) -> Result:
    room = s.require_room()
    return _invite_one(s, s.needs(arg, "invite"), room)


async def _invite_one(s: Conversation, name: str, room: r.Room) -> None:
    _, target = await s.rooms.invite(s.require_member(), room.name, name)  # the room sees it
    s.say(f"* You invited {target.name} to {room.name}.")


def room_modes(room: r.Room) -> str:
    """`+iklnt KEY 10`: the room's modes as /mode shows them to a member."""
    letters = set(room.modes) | {"k"} - ({"k"} if not room.join_key else set())
    letters |= {"l"} if room.limit else set()
    args = [a for a in (room.join_key, str(room.limit) if room.limit else "") if a]
    return " ".join(("+" + "".join(sorted(letters)), *args))


def mode(s: Conversation, arg: str) -> None:
    room = s.require_room()
    if not arg:
        s.say(f"* Modes of {room.name}: {room_modes(room)}")
        return
    changes, queries = _mode_words(arg.split())
    if queries:
        show_lists(s, room, "".join(dict.fromkeys(queries)))
    if changes:
        done, refused = _apply(s, room, changes)
        if not done and not refused:
            s.say(f"* Nothing to change in {room.name}: it is so already.")


def _mode_words(words: list[str]) -> tuple[list[Change], list[str]]:
    """`/mode`'s words as changes and list queries, or UserError (nothing is changed).

    Groups of letters come each with its arguments after it (`+k key -i +l 5`); `o v`,
    `+k` and `+l` need one (`! Usage: /mode +k KEY`); `b e I` and `-k` take the next
    word unless it starts another group (`+` or `-`): alone, `+b` lists the bans."""
    changes: list[Change] = []
    queries: list[str] = []
    rest = list(words)
    while rest:
        flags = rest.pop(0)
        if flags[:1] not in "+-" and len(rest) < len(words) - 1:  # not the first word
            raise UserError(f'No mode takes "{flags}". Usage: /mode [+-FLAGS ARGS]')
        args: list[str] = []
        sign = "+"
        for letter in flags:
            if letter in "+-":
                sign = letter
            elif letter in "ov" or (letter in "kl" and sign == "+"):
                if not rest:
                    what = {"o": "NAME", "v": "NAME", "k": "KEY", "l": "LIMIT"}[letter]
                    raise UserError(f"Usage: /mode {sign}{letter} {what}")
                args.append(rest.pop(0))
            elif (letter in "beI" or letter == "k") and rest and rest[0][:1] not in "+-":
                args.append(rest.pop(0))
        group, asked, unknown = parse_changes(flags, args)
        if unknown or not flags.lstrip("+-"):
            known = "b e I k l m i n t s o v"
            raise UserError(f'Unknown mode "{"".join(unknown) or flags}". Modes: {known}.')
        changes += group
        queries += asked
    return changes, queries
