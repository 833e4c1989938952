"""Ban masks (`nick!user@host` with `*` and `?`) and mode strings (`+kl-b key 10 mask`).

Pure functions on text: no asyncio, no sockets, no registry. A mask's nick and user
parts compare as names do (utils.name_key: case, width, lookalikes, IRC's rfc1459
mapping); its host part is either a wildcard pattern or an IP network
(`10.0.0.0/8`, `2001:db8::/64`), matched against the member's address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from utils import name_key

Matcher = Callable[[str, str, str], bool]  # (name, user, host) -> matches

LIST_LETTERS = "beI"  # ban, ban exception, invite exception: masks, listed when asked
MEMBER_LETTERS = "ov"  # operator, voice: a name
FLAG_LETTERS = "imnst"  # no argument
ROOM_LETTERS = LIST_LETTERS + MEMBER_LETTERS + FLAG_LETTERS + "kl"


@dataclass(frozen=True, slots=True)
class Change:
    """One mode change: sign `+` or `-`, its letter, and its argument ("" if none)."""

    sign: str
    letter: str
    arg: str = ""


def parse_changes(modes: str, args: list[str]) -> tuple[list[Change], list[str], list[str]]:
    """`+kl-b`, `[key, 10, mask]` as changes; also the list letters asked about
    without an argument (`+b`: show the ban list) and the letters not known."""
    changes: list[Change] = []
    queries: list[str] = []
    unknown: list[str] = []
    rest = list(args)
    sign = "+"
    for letter in modes:
        if letter in "+-":
            sign = letter
        elif letter not in ROOM_LETTERS:
            unknown.append(letter)
        elif letter in FLAG_LETTERS or (letter == "l" and sign == "-"):
            changes.append(Change(sign, letter))
        elif letter == "k" and sign == "-":
            changes.append(Change(sign, letter, rest.pop(0) if rest else ""))
        elif rest:
            changes.append(Change(sign, letter, rest.pop(0)))
        elif letter in LIST_LETTERS:
            queries.append(letter)
        # o, v, +k and +l without their argument: nothing to do (as most servers)
    return changes, queries, unknown


def word_changes(changes: list[Change]) -> tuple[str, tuple[str, ...]]:
    """Changes as one mode string and its arguments: `+o-v`, `("bob", "carol")`."""
    text, args, last = "", [], ""
    for change in changes:
        text += (change.sign if change.sign != last else "") + change.letter
        last = change.sign
        if change.arg:
            args.append(change.arg)
    return text, tuple(args)


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


ACCOUNT_BAN = "a:"  # an extended ban on an account: `a:alice` (ISUPPORT EXTBAN=,am)
# A mute: `m:MASK` in the ban list silences whom MASK matches (any mask, `m:a:bob` too)
# without keeping them out; in the exception list it excepts from mutes only. The
# letter Ergo and InspIRCd use (ISUPPORT EXTBAN=,am).
MUTE_BAN = "m:"


def account_matches(mask: str, account: str) -> bool:
    """Whether a completed `a:PATTERN` mask matches this account (never no account)."""
    return bool(account) and glob(name_key(mask[2:]), name_key(account))


def entry_matches(mask: str, name: str, user: str, host: str, account: str) -> bool:
    """Whether a completed list entry matches a user: `a:PATTERN` its account, any other
    its nick!user@host; a mute (`m:MASK`) as MASK does."""
    if mask[:2] == MUTE_BAN:
        mask = mask[2:]
    if mask[:2] == ACCOUNT_BAN:
        return account_matches(mask, account)
    return matches(mask, name, user, host)


def complete(mask: str) -> str:
    """The full `nick!user@host` form of a mask: `bob` -> `bob!*@*`, `bob!u` ->
    `bob!u@*`, `u@h` -> `*!u@h`, an address or network `10.0.0.7` -> `*!*@10.0.0.7`; an account
    ban stays one: `A:alice` -> `a:alice`; a mute completes what it mutes: `M:bob` ->
    `m:bob!*@*`."""
    if mask[:2].lower() == MUTE_BAN:
        return MUTE_BAN + complete(mask[2:])
    if mask[:2].lower() == ACCOUNT_BAN and _network(mask) is None:  # not IPv6's a:b::1
        return ACCOUNT_BAN + (mask[2:] or "*")
    if "!" not in mask and "@" not in mask:
        return f"*!*@{mask}" if _network(mask) is not None else f"{mask or '*'}!*@*"
    nick, _, rest = mask.partition("!") if "!" in mask else ("*", "", mask)
    user, _, host = rest.rpartition("@") if "@" in rest else (rest, "", "*")
    return f"{nick or '*'}!{user or '*'}@{host or '*'}"


def glob(pattern: str, text: str) -> bool:
    """Whether text matches a pattern of `*` (any run) and `?` (one character).
    Greedy with one backtrack point, so O(len(pattern) * len(text)) at worst: a
    regular expression would backtrack exponentially on `*a*a*a...b`, and anyone
    may send such a mask (WHO), an operator even keep one (a ban)."""
    p = t = 0
    star, mark = -1, 0
    while t < len(text):
        if p < len(pattern) and pattern[p] in ("?", text[t]) and pattern[p] != "*":
            p, t = p + 1, t + 1
        elif p < len(pattern) and pattern[p] == "*":
            star, mark, p = p, t, p + 1
        elif star >= 0:
            mark += 1
            p, t = star + 1, mark
        else:
            return False
    return pattern[p:].strip("*") == ""


@lru_cache(maxsize=4096)
def matcher(mask: str) -> Matcher:
    """A test of (name, user, host) against a completed mask; compiled once."""
    nick, _, rest = mask.partition("!")
    user, _, host = rest.rpartition("@")
    nick, user, host = name_key(nick), name_key(user), host.casefold()
    network = _network(host) if "/" in host else None

    def match(name: str, user_: str, host_: str) -> bool:
        if nick != "*" and not glob(nick, name_key(name)):
            return False
        if user != "*" and not glob(user, name_key(user_)):
            return False
        if network is not None:
            address = _network(host_)
            return address is not None and address.num_addresses == 1 and address[0] in network
        return host == "*" or glob(host, host_.casefold())

    return match


def matches(mask: str, name: str, user: str, host: str) -> bool:
    """Whether a completed mask matches this name, user and host."""
    return matcher(mask)(name, user, host)


def address_mask(host: str) -> str:
    """The mask that bans an address: the address itself, or its /64 for IPv6 (one
    home gets a whole /64, so a new address in it is the same person)."""
    network = _network(host)
    if network is not None and network.version == 6 and network.num_addresses == 1:
        mapped = ipaddress.IPv6Address(host).ipv4_mapped
        if mapped is not None:
            return f"*!*@{mapped}"
        return f"*!*@{ipaddress.ip_network(host + '/64', strict=False)}"
    return f"*!*@{host or '*'}"


def mask_problem(mask: str, max_chars: int) -> str | None:
    """Why a mask (as given) cannot be listed, or None."""
    if not mask:
        return "empty"
    if len(mask) > max_chars:
        return f"longer than {max_chars} characters"
    if not mask.isprintable() or " " in mask or "," in mask:
        return "contains a space, a comma or a control character"
    if mask[:2].lower() == MUTE_BAN and mask[2:4].lower() == MUTE_BAN:
        return "a mute of a mute"
    return None
