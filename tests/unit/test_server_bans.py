"""Server bans, socket-free: registry/bans.py's masks, matching, durations and expiry;
the registry's verbs (who may set one, who it disconnects, what it refuses); both doors'
commands and what a banned user is told."""

from __future__ import annotations

import pytest

import registry as r
from config.settings import Config
from doors.irc.session import IrcDoor, IrcSession
from doors.text.session import Session, State
from registry.accounts import Accounts
from registry.bans import (
    BanRecord,
    NoBanStore,
    ServerBans,
    ban_key,
    ban_mask,
    parse_duration,
    word_duration,
)
from rooms import RoomManager
from tests.unit.test_irc_core import numerics, registered
from tests.unit.test_opers import inline, opers
from tests.unit.test_session import User, in_room, named


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class MemoryStore(NoBanStore):
    """A store that keeps what it is given, as the database would."""

    def __init__(self, records: list[BanRecord] | None = None) -> None:
        self.kept = {record.key: record for record in records or []}

    def ban_records(self) -> list[BanRecord]:
        return list(self.kept.values())

    def save_ban(self, record: BanRecord) -> None:
        self.kept[record.key] = record

    def forget_ban(self, key: str) -> None:
        self.kept.pop(key, None)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def rooms(clock: Clock) -> RoomManager:
    accounts = Accounts(run_slow=inline, iterations=4096, clock=clock)
    await accounts.register("Mallory", "sesame", "192.0.2.1")
    return RoomManager(clock=clock, defer=lambda flush: flush(), opers=opers(), accounts=accounts)


@pytest.fixture
def door(rooms: RoomManager) -> IrcDoor:
    return IrcDoor(rooms, Config(irc_server_name="irc.test"))


# --- registry/bans.py ---


def test_masks_are_completed_as_room_bans_are_and_accounts_kept_apart() -> None:
    assert ban_mask("bob") == "bob!*@*"
    assert ban_mask("203.0.113.7") == "*!*@203.0.113.7"
    assert ban_mask("2001:db8::/64") == "*!*@2001:db8::/64"
    assert ban_mask("~u@host.example") == "*!~u@host.example"
    assert ban_mask("a:Mallory") == "a:Mallory"
    assert ban_mask("a:b::1") == "*!*@a:b::1"  # an IPv6 address, not an account
    assert ban_key("A:MALLORY") == ban_key("a:mallory")
    assert ban_key(ban_mask("BOB")) == ban_key(ban_mask("bob"))
    for bad, why in (
        ("", "empty"), ("a b", "a space"), ("a:", "a:ACCOUNT"), ("a:x@y", "a:"), ("m:bob", "mute")
    ):  # fmt: skip
        with pytest.raises(r.BadServerBan) as refused:
            ban_mask(bad)
        assert why in refused.value.why


def test_durations_read_as_units_and_anything_else_is_a_mask() -> None:
    assert parse_duration("90s") == 90
    assert parse_duration("1H") == 3600
    assert parse_duration("1d12h") == 129_600
    assert parse_duration("2w") == 14 * 86400
    for word in ("bob", "10", "1x", "h1", "*!*@1.2.3.4", ""):
        assert parse_duration(word) is None
    for word in ("0h", "5000w"):
        with pytest.raises(r.BadDuration):
            parse_duration(word)
    assert [word_duration(s) for s in (90, 3600, 129_600, 7 * 86400)] == [
        "1m30s",
        "1h",
        "1d12h",
        "1w",
    ]


def test_a_ban_matches_by_name_address_network_user_or_account(clock: Clock) -> None:
    bans = ServerBans(clock=clock)
    for mask in ("bob", "*!*@203.0.113.7", "*!*@2001:db8::/64", "*!~eve*@*", "a:mall*"):
        bans.add(ban_mask(mask), "", "root")
    assert bans.match("BOB", "~x", "192.0.2.1") is not None
    assert bans.match("carol", "~carol", "203.0.113.7") is not None
    assert bans.match("carol", "~carol", "2001:db8::5") is not None
    assert bans.match("carol", "~eve2", "192.0.2.1") is not None
    assert bans.match("carol", "~carol", "192.0.2.1", "Mallory") is not None
    assert bans.match("carol", "~carol", "192.0.2.1") is None
    assert bans.match("carol", "~carol", "192.0.2.1", "carol") is None


def test_only_an_address_mask_is_checked_before_a_name(clock: Clock) -> None:
    bans = ServerBans(clock=clock)
    bans.add(ban_mask("bob!*@203.0.113.7"), "", "root")
    assert bans.match_address("203.0.113.7") is None  # a name is part of it: at the claim
    bans.add(ban_mask("203.0.113.0/24"), "spam", "root")
    found = bans.match_address("203.0.113.7")
    assert found is not None and found.why == "spam"
    assert bans.match_address("192.0.2.1") is None


def test_setting_a_mask_again_replaces_it_and_a_store_keeps_each_change(clock: Clock) -> None:
    store = MemoryStore()
    bans = ServerBans(store, clock=clock)
    first, replaced = bans.add(ban_mask("bob"), "one", "root", 3600)
    assert not replaced and first.expires == clock.now + 3600
    second, replaced = bans.add(ban_mask("BOB"), "two", "root")
    assert replaced and second.expires == 0.0 and len(bans) == 1
    assert list(store.kept.values()) == [second]
    assert bans.remove("Bob!*@*") == second
    assert bans.remove("bob") is None and store.kept == {}


def test_a_ban_expires_and_a_store_forgets_it_then_or_at_the_next_start(clock: Clock) -> None:
    store = MemoryStore()
    bans = ServerBans(store, clock=clock)
    bans.add(ban_mask("bob"), "", "root", 60)
    bans.add(ban_mask("carol"), "", "root")
    clock.now += 59
    assert bans.match("bob", "", "h") is not None
    clock.now += 1
    assert bans.match("bob", "", "h") is None
    assert [b.mask for b in bans.listing()] == ["carol!*@*"]
    assert list(store.kept) == [ban_key("carol!*@*")]
    old = BanRecord("dave!*@*", "", "root", 0.0, clock.now - 1)
    again = ServerBans(MemoryStore([old, *store.kept.values()]), clock=clock)
    assert [b.mask for b in again.listing()] == ["carol!*@*"]
    assert again.is_kept and not ServerBans(clock=clock).is_kept


# --- the registry's verbs ---


async def test_only_a_server_operator_sets_lifts_or_lists_bans(rooms: RoomManager) -> None:
    alice = (await named(rooms, "alice")).session.require_member()
    with pytest.raises(r.NotServerOperator):
        rooms.server_ban(alice, "bob", "")
    with pytest.raises(r.NotServerOperator):
        rooms.lift_server_ban(alice, "bob")
    with pytest.raises(r.NotServerOperator):
        rooms.server_bans(alice)
    assert len(rooms.bans) == 0


async def test_an_oper_cannot_ban_itself(rooms: RoomManager) -> None:
    alice = await named(rooms, "alice", peer="192.0.2.9:4000")
    await alice.say("/oper root hunter2")
    with pytest.raises(r.BanMatchesYou):
        rooms.server_ban(alice.session.require_member(), "*!*@192.0.2.0/24", "")
    with pytest.raises(r.BanMatchesYou):
        rooms.server_ban(alice.session.require_member(), "*", "")
    assert len(rooms.bans) == 0


async def test_a_banned_name_is_refused_at_the_claim_and_to_a_rename(rooms: RoomManager) -> None:
    root = await named(rooms, "root")
    await root.say("/oper root hunter2")
    rooms.server_ban(root.session.require_member(), "bob", "impostor")
    with pytest.raises(r.ServerBanned) as refused:
        await rooms.claim("BOB", lambda data: None, lambda event: b"", host="h")
    assert refused.value.reason == "impostor"
    carol = await named(rooms, "carol")
    assert await carol.say("/nick bob") == [
        '! The name "bob" is banned from this server: impostor',
        "Enter your choice:",
    ]
    assert rooms.find("carol") is not None


# --- the text door ---


async def test_text_kline_disconnects_whom_it_matches_and_their_room_sees_why(
    rooms: RoomManager,
) -> None:
    root = await in_room(rooms, "root", "lobby", peer="192.0.2.9:4000")
    bob = await in_room(rooms, "bob", "lobby", peer="203.0.113.7:5000")
    await in_room(rooms, "carol", "lobby", peer="203.0.113.8:5000")
    assert await bob.say("/kline carol") == ["! You are not a server operator."]
    await root.say("/oper root hunter2")
    bob.out.clear()
    out = await root.say("/kline 1h *!*@203.0.113.0/24 spam from there")
    assert out[:2] == [
        "* bob has quit (Banned from this server (spam from there))",
        "* carol has quit (Banned from this server (spam from there))",
    ]
    assert out[2].startswith("* Server ban set: *!*@203.0.113.0/24, for 1h, until ")
    assert out[2].endswith(" (spam from there).")
    assert out[3:] == ["* It disconnected bob, carol."]
    assert bob.out == ["! You are banned from this server: spam from there"]
    assert bob.session.state is State.CLOSED and rooms.find("bob") is None
    listed = await root.say("/klines")
    assert listed[0] == "Server bans (1)"
    assert listed[1].startswith("*!*@203.0.113.0/24 by root on ")
    assert listed[1].endswith(" (spam from there)")
    assert await root.say("/unkline 203.0.113.0/24") == ["* Server ban lifted: *!*@203.0.113.0/24."]
    assert await root.say("/klines") == ["* No server bans."]


async def test_text_kline_refusals(rooms: RoomManager) -> None:
    root = await named(rooms, "root")
    await root.say("/oper root hunter2")
    assert await root.say("/kline") == [
        "! Usage: /kline [DURATION] MASK [REASON]",
        "Enter your choice:",
    ]
    assert (await root.say("/kline 1h"))[0] == "! Usage: /kline [DURATION] MASK [REASON]"
    assert (await root.say("/kline 0h bob"))[0] == '! Invalid duration "0h": from 1s to 3650d.'
    assert (await root.say("/kline a: x"))[0] == (
        '! Invalid mask "a:": an account\'s mask is a:ACCOUNT.'
    )
    assert (await root.say("/kline root"))[0] == (
        "! A server ban on root!*@* would match you; give a narrower mask."
    )
    assert (await root.say("/unkline bob"))[0] == '! No server ban on "bob".'
    out = await root.say("/kline bob", "/kline bob again")
    assert out[0] == "* Server ban set: bob!*@*, permanent (no reason)."
    assert out[2] == "* Server ban updated: bob!*@*, permanent (again)."


async def test_a_banned_address_is_told_at_connect_and_closed(rooms: RoomManager) -> None:
    root = await named(rooms, "root")
    await root.say("/oper root hunter2")
    await root.say("/kline 203.0.113.7 go away")
    user = User(rooms, peer="203.0.113.7:5000")
    user.session.start()
    assert user.out == ["! You are banned from this server: go away"]
    assert user.session.state is State.CLOSED
    other = User(rooms, peer="203.0.113.8:5000")
    other.session.start()
    assert other.out[0] == "* Welcome to chatroom."


async def test_a_banned_name_or_account_is_told_at_the_name_prompt_and_closed(
    rooms: RoomManager,
) -> None:
    root = await named(rooms, "root")
    await root.say("/oper root hunter2")
    await root.say("/kline bob", "/kline a:mallory spammer")
    bob = User(rooms)
    bob.session.start()
    assert await bob.say("bob") == ["! You are banned from this server: no reason"]
    assert bob.session.state is State.CLOSED and rooms.find("bob") is None
    mallory = User(rooms)
    mallory.session.start()
    assert await mallory.say("mallory", "sesame") == [
        "Enter the password for Mallory:",
        "! You are banned from this server: spammer",
    ]
    assert rooms.find("mallory") is None


async def test_a_login_to_a_banned_account_disconnects(rooms: RoomManager) -> None:
    root = await named(rooms, "root")
    await root.say("/oper root hunter2")
    await root.say("/kline a:Mallory")
    guest = await named(rooms, "guest")
    await guest.say("/msg NickServ IDENTIFY Mallory sesame")
    assert guest.out[0] == "! You are banned from this server: no reason"
    assert guest.session.state is State.CLOSED and rooms.find("guest") is None


def test_help_lists_the_ban_commands() -> None:
    from doors.text.commands import COMMANDS

    assert {"kline", "unkline", "klines"} <= set(COMMANDS)
    assert all("(server operators)" in COMMANDS[c].usage for c in ("kline", "unkline", "klines"))


# --- the IRC door ---


async def test_irc_kline_disconnects_with_465_and_error(door: IrcDoor) -> None:
    ircop, alice, bob = [await registered(door, n) for n in ("ircop", "alice", "bob")]
    await alice.send("JOIN #c")
    await bob.send("JOIN #c")
    alice.take()
    assert numerics(await alice.send("KLINE bob")) == ["481"]
    await ircop.send("OPER root hunter2")
    out = await ircop.send("KLINE 2h bob :spamming links")
    assert out == [
        ":irc.test NOTICE ircop :Added K-Line for bob!*@* (for 2h): spamming links",
        ":irc.test NOTICE ircop :K-Line for bob!*@* disconnected bob",
    ]
    assert bob.take() == [
        ":irc.test 465 bob :You are banned from this server: spamming links",
        "ERROR :Closing link: localhost (K-Lined: spamming links)",
    ]
    assert bob.session.is_closed and bob.session.member is None
    assert alice.take() == [":bob!~bob@localhost QUIT :Banned from this server (spamming links)"]
    [stats, end] = await ircop.send("STATS k")
    assert stats.startswith(":irc.test 216 ircop K bob!*@* ircop ")
    assert stats.endswith(" :spamming links")
    assert end == ":irc.test 219 ircop k :End of /STATS report"
    assert await ircop.send("KLINE LIST") == [stats, end.replace(" k ", " K ")]
    assert await ircop.send("UNKLINE BOB") == [":irc.test NOTICE ircop :Removed K-Line for bob!*@*"]
    assert await ircop.send("UNKLINE bob") == [
        ":irc.test FAIL UNKLINE NO_SUCH_KLINE bob :No K-Line for bob"
    ]
    assert numerics(await alice.send("STATS k")) == ["481"]
    assert await alice.send("STATS u") == [":irc.test 219 alice u :End of /STATS report"]


async def test_irc_kline_refusals(door: IrcDoor) -> None:
    ircop = await registered(door, "ircop")
    await ircop.send("OPER root hunter2")
    assert numerics(await ircop.send("KLINE 1h")) == ["461"]
    assert await ircop.send("KLINE 0s bob") == [
        ":irc.test FAIL KLINE INVALID_DURATION 0s :From 1s to 3650d"
    ]
    assert await ircop.send("KLINE a:x!y") == [
        ":irc.test FAIL KLINE INVALID_MASK a:x!y :Invalid mask: an account's mask is a:ACCOUNT"
    ]
    assert await ircop.send("KLINE *!*@localhost") == [
        ":irc.test FAIL KLINE MATCHES_YOU *!*@localhost "
        ":That K-Line would match you; give a narrower mask"
    ]


async def test_irc_a_banned_address_or_nick_gets_465_before_the_welcome(door: IrcDoor) -> None:
    ircop = await registered(door, "ircop")
    await ircop.send("OPER root hunter2")
    await ircop.send("KLINE 192.0.2.66 :bad address", "KLINE bob :bad nick")
    out: list[str] = []
    refused = IrcSession(door, out.append, host="192.0.2.66")
    refused.start()
    assert out == [
        ":irc.test 465 * :You are banned from this server: bad address",
        "ERROR :Closing link: 192.0.2.66 (K-Lined: bad address)",
    ]
    assert refused.is_closed
    out.clear()
    bob = IrcSession(door, out.append, host="192.0.2.67")
    bob.start()
    for text in ("NICK bob", "USER bob 0 * :Bob"):
        pending = bob.feed_nowait(text)
        if pending is not None:
            await pending
    assert out == [
        ":irc.test 465 bob :You are banned from this server: bad nick",
        "ERROR :Closing link: 192.0.2.67 (K-Lined: bad nick)",
    ]
    alice = await registered(door, "alice")
    assert await alice.send("NICK bob") == [
        ":irc.test 432 alice bob :Erroneous nickname: banned (bad nick)"
    ]


def test_stats_kline_and_unkline_have_help() -> None:
    from doors.irc.usage import TOPICS

    assert {"KLINE", "UNKLINE", "STATS"} <= set(TOPICS)


async def test_a_session_of_either_door_may_be_banned_as_it_is_made(rooms: RoomManager) -> None:
    # Nothing is said to a banned connection before the ban line: no welcome, no MOTD.
    rooms.bans.add("*!*@198.51.100.1", "", "root")
    out: list[str] = []
    Session(rooms, Config(motd=("hello",)), out.append, peer="198.51.100.1:1").start()
    assert out == ["! You are banned from this server: no reason"]
