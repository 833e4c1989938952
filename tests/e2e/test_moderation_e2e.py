"""Moderation across both doors, end to end: the real server on port 0, text clients
and IRC clients over real sockets. One set of rules (the registry's), each door's
words for them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from config.settings import Config
from doors.text.session import MENU
from net.listeners import ChatServer
from tests.conftest import Connect
from tests.rigs.chat import ChatClient, in_room
from tests.rigs.irc import IrcClient
from tests.unit.test_reclaim import CODE, login_with_code, reclaim

IrcConnect = Callable[..., Awaitable[IrcClient]]
HHMM = r"\[\d\d:\d\d\]"


@pytest.fixture
def config() -> Config:
    return Config(port=0, irc_port=0, rate_lines_per_s=0, irc_server_name="irc.test")


@pytest.fixture
async def irc(server: ChatServer) -> AsyncIterator[IrcConnect]:
    """Open IRC clients; `await irc("bob")` also registers as bob."""
    clients: list[IrcClient] = []

    async def open_client(nick: str, caps: tuple[str, ...] = ()) -> IrcClient:
        client = await IrcClient.open(server.irc_port)
        clients.append(client)
        await client.register(nick, caps)
        return client

    yield open_client
    for client in clients:
        await client.close()


async def text_op_and_irc_bob(connect: Connect, irc: IrcConnect) -> tuple[ChatClient, IrcClient]:
    """alice made room general on the text door (its operator); bob joined from IRC."""
    alice = await in_room(connect, "alice", "general", create=True)
    bob = await irc("bob")
    await bob.join("#general")
    await alice.expect("* bob has joined general")
    return alice, bob


async def irc_op_and_text_alice(connect: Connect, irc: IrcConnect) -> tuple[IrcClient, ChatClient]:
    """bob made #general on IRC (its operator); alice joined from the text door."""
    bob = await irc("bob")
    lines = await bob.join("#general")
    assert ":irc.test 353 bob = #general @bob" in lines
    alice = await in_room(connect, "alice", "general")
    await bob.expect(":alice!~alice@127.0.0.1 JOIN #general")
    return bob, alice


async def test_an_irc_operator_kicks_a_text_user_who_is_back_at_the_menu(
    connect: Connect, irc: IrcConnect
) -> None:
    bob, alice = await irc_op_and_text_alice(connect, irc)
    await bob.send("KICK #general alice :mind your manners")
    await bob.expect(":bob!~bob@127.0.0.1 KICK #general alice :mind your manners")
    await alice.expect("* alice was kicked from general by bob (mind your manners)")
    assert [await alice.line() for _ in MENU] == list(MENU)
    await alice.send("hello?")  # the menu reads it now: not chat
    assert await alice.line() == '! Invalid choice "hello?". Enter 1, 2, 3 or 4.'
    await alice.send("/join general")  # a kick is not a ban
    await alice.expect(re.compile(r"\* Users in general: alice, @bob"))


async def test_a_text_operator_kicks_an_irc_user_with_a_reason(
    connect: Connect, irc: IrcConnect
) -> None:
    alice, bob = await text_op_and_irc_bob(connect, irc)
    await alice.send("/kick bob spamming links")
    await bob.expect(":alice!~alice@127.0.0.1 KICK #general bob :spamming links")
    await alice.expect("* bob was kicked from general by alice (spamming links)")
    await bob.send("PRIVMSG #general :still here?")
    await bob.expect(":irc.test 404 bob #general :Cannot send to channel (no external messages)")


async def test_only_operators_kick_and_the_refusals_say_why(
    connect: Connect, irc: IrcConnect
) -> None:
    alice, bob = await text_op_and_irc_bob(connect, irc)
    carol = await in_room(connect, "carol", "general")
    await alice.expect("* carol has joined general")
    await carol.send("/kick alice")
    assert await carol.line() == "! You are not an operator of general."
    await bob.send("KICK #general alice")
    await bob.expect(":irc.test 482 bob #general :You're not a channel operator")
    await alice.send("/kick nobody")
    assert await alice.line() == '! No user named "nobody".'
    dave = await connect("dave")
    await alice.send("/kick dave")
    assert await alice.line() == "! dave is not in general."
    await dave.close()


async def test_a_name_ban_holds_the_name_and_an_address_ban_is_asked_for_by_mask(
    connect: Connect, irc: IrcConnect
) -> None:
    alice, bob = await text_op_and_irc_bob(connect, irc)
    mallory = await in_room(connect, "mallory", "general")
    await alice.expect("* mallory has joined general")
    await alice.send("/ban mallory")  # the name only: others share 127.0.0.1
    await alice.expect("* alice set mode +b mallory!*@* on general")
    assert await alice.line() == "* mallory was kicked from general by alice (banned)"
    await bob.expect(":alice!~alice@127.0.0.1 MODE #general +b mallory!*@*")
    await bob.expect(":alice!~alice@127.0.0.1 KICK #general mallory banned")
    await mallory.expect("* mallory was kicked from general by alice (banned)")
    await mallory.expect("Enter your choice:")
    await mallory.send("/join general")
    assert await mallory.line() == "! You are banned from general."
    await mallory.expect("Enter your choice:")
    await mallory.send("/nick eve", "/join general")  # a name ban holds the name only
    assert await mallory.line() == "* You are now known as eve."
    await mallory.expect("Joined room [general]. Type 'exit' to leave, /help for commands.")
    await alice.expect("* eve has joined general")
    await alice.send("/ban *!*@127.0.0.1")  # an address ban says whom it matches
    await alice.expect("* alice set mode +b *!*@127.0.0.1 on general")
    assert await alice.line() == "* *!*@127.0.0.1 matches 3 members of general: alice, bob, eve"
    await mallory.expect("* alice set mode +b *!*@127.0.0.1 on general")
    await mallory.send("hello?")
    assert await mallory.line() == "! You are banned from general: you may not speak in it."
    await mallory.close()
    await alice.expect("* eve has quit")
    again = await connect("trudy")  # a new connection from the same address
    await again.send("/join general")
    assert await again.line() == "! You are banned from general."
    await alice.send("/bans")
    assert re.fullmatch(r"\* general bans mallory!\*@\* \(set by alice at .*\)", await alice.line())
    assert re.fullmatch(
        r"\* general bans \*!\*@127\.0\.0\.1 \(set by alice .*\)", await alice.line()
    )
    await alice.send("/unban *!*@127.0.0.1")
    await alice.expect("* alice set mode -b *!*@127.0.0.1 on general")
    await again.send("/join general")
    await again.expect(re.compile(r"\* Users in general: .*trudy"))


async def test_an_irc_ban_keeps_out_a_text_user_and_silences_one_inside(
    connect: Connect, irc: IrcConnect
) -> None:
    bob, alice = await irc_op_and_text_alice(connect, irc)
    await bob.send("MODE #general +b alice")  # a bare name: alice!*@*
    await bob.expect(":bob!~bob@127.0.0.1 MODE #general +b alice!*@*")
    await alice.expect("* bob set mode +b alice!*@* on general")
    await alice.send("hello")
    assert await alice.line() == "! You are banned from general: you may not speak in it."
    await bob.send("MODE #general +e *!~alice@*")  # an exception lets alice speak again
    await alice.expect("* bob set mode +e *!~alice@* on general")
    await alice.send("hello again")
    await bob.expect(":alice!~alice@127.0.0.1 PRIVMSG #general :hello again")
    await bob.send("MODE #general b", "MODE #general e")
    await bob.expect(re.compile(r":irc.test 367 bob #general alice!\*@\* bob!~bob@127.0.0.1 \d+"))
    await bob.expect(":irc.test 368 bob #general :End of channel ban list")
    await bob.expect(re.compile(r":irc.test 348 bob #general \*!~alice@\* bob!\S+ \d+"))
    await bob.expect(":irc.test 349 bob #general :End of channel exception list")


async def test_a_mute_lets_users_of_both_doors_in_and_keeps_them_silent(
    connect: Connect, irc: IrcConnect
) -> None:
    bob = await irc("bob")
    await bob.join("#general")
    await bob.send("MODE #general +b M:carol")
    await bob.expect(":bob!~bob@127.0.0.1 MODE #general +b m:carol!*@*")
    carol = await irc("Carol")  # joins: a mute is no ban
    await carol.join("#general")
    await carol.send("PRIVMSG #general :hi", "PRIVMSG #general :hi again")  # the fast path too
    for _ in range(2):
        await carol.expect(
            ":irc.test 404 Carol #general :Cannot send to channel (+b m:) - you are muted"
        )
    alice = await in_room(connect, "alice", "general")
    await bob.expect(":alice!~alice@127.0.0.1 JOIN #general")
    await bob.send("MODE #general +b m:*!~alice@*")
    await alice.expect("* bob set mode +b m:*!~alice@* on general")
    await alice.send("hello")
    assert await alice.line() == "! You are muted in general: you may not speak in it."
    await bob.send("MODE #general +v Carol", "MODE #general +e m:alice")
    await alice.expect("* bob set mode +e m:alice!*@* on general")
    await carol.send("PRIVMSG #general :voiced")
    await alice.expect(re.compile(rf"{HHMM} <Carol> voiced"))
    await alice.send("excepted")
    await bob.expect(":alice!~alice@127.0.0.1 PRIVMSG #general excepted")
    await bob.send("MODE #general +b")
    await bob.expect(re.compile(r":irc.test 367 bob #general m:carol!\*@\* bob!~bob@\S+ \d+"))


async def test_the_mute_extban_is_advertised_next_to_the_account_one(server: ChatServer) -> None:
    bob = await IrcClient.open(server.irc_port)
    try:
        welcome = await bob.register("bob")
    finally:
        await bob.close()
    tokens = " ".join(entry for entry in welcome if " 005 " in entry).split()
    assert "EXTBAN=,am" in tokens and "ACCOUNTEXTBAN=a" in tokens, welcome


async def test_moderated_silences_the_unvoiced_on_both_doors(
    connect: Connect, irc: IrcConnect
) -> None:
    alice, bob = await text_op_and_irc_bob(connect, irc)
    carol = await in_room(connect, "carol", "general")
    await alice.send("/mode +m")
    await alice.expect("* alice set mode +m on general")
    await bob.expect(":alice!~alice@127.0.0.1 MODE #general +m")
    await bob.send("PRIVMSG #general :can you hear me")
    await bob.expect(":irc.test 404 bob #general :Cannot send to channel (+m) - you need voice")
    await carol.expect("* alice set mode +m on general")
    await carol.send("me neither?")
    assert await carol.line() == (
        "! general is moderated: only operators and voiced members may speak."
    )
    await alice.send("/voice bob", "operators still speak")
    await alice.expect("* alice set mode +v bob on general")
    await alice.expect(re.compile(rf"{HHMM} <alice> operators still speak"))
    await bob.send("PRIVMSG #general :now I can", "PRIVMSG #general :and again")  # fast path
    await carol.expect(re.compile(rf"{HHMM} <bob> now I can"))
    await carol.expect(re.compile(rf"{HHMM} <bob> and again"))
    await carol.send("/who")
    await carol.expect("* Users in general: @alice, +bob, carol")


async def test_invite_only_and_invitations_across_doors(connect: Connect, irc: IrcConnect) -> None:
    bob, alice = await irc_op_and_text_alice(connect, irc)
    await bob.send("MODE #general +i")
    await alice.expect("* bob set mode +i on general")
    carol = await connect("carol")
    await carol.send("/join general")
    assert await carol.line() == "! general is invite-only."
    assert await carol.line() == "Enter your choice:"
    await alice.send("/invite carol")
    assert await alice.line() == "! You are not an operator of general."
    await bob.send("INVITE carol #general")
    await bob.expect(":irc.test 341 bob carol #general")
    assert await carol.line() == "* bob invited you to general (/join general)"
    await alice.expect("* bob invited carol to general")
    await carol.send("/join general")
    await carol.expect("* Users in general: alice, @bob, carol")
    # ... and from the text door to IRC
    await bob.send("MODE #general +o alice")
    await alice.expect("* bob set mode +o alice on general")
    dave = await irc("dave")
    await dave.send("JOIN #general")
    await dave.expect(":irc.test 473 dave #general :Cannot join channel (+i) - you must be invited")
    await alice.send("/invite dave")
    assert await alice.line() == "* You invited dave to general."
    await dave.expect(":alice!~alice@127.0.0.1 INVITE dave #general")
    await dave.send("INVITE")
    await dave.expect(":irc.test 336 dave #general")
    await dave.expect(":irc.test 337 dave :End of /INVITE list")
    await dave.join("#general")  # the invitation is used up
    await dave.send("PART #general", "JOIN #general")
    await dave.expect(":irc.test 473 dave #general :Cannot join channel (+i) - you must be invited")


async def test_keys_and_limits_on_both_doors(connect: Connect, irc: IrcConnect) -> None:
    alice, bob = await text_op_and_irc_bob(connect, irc)
    await alice.send("/mode +kl letmein 3")
    await alice.expect("* alice set mode +kl letmein 3 on general")
    await alice.send("/mode")
    assert await alice.line() == "* Modes of general: +kln letmein 3"
    carol = await connect("carol")
    await carol.send("/join general")
    assert await carol.line() == "! general has a key: /join general KEY"
    assert await carol.line() == "Enter your choice:"
    await carol.send("/join general guess")
    assert await carol.line() == "! Wrong key for general."
    await carol.send("/join general letmein")
    await carol.expect(re.compile(r"\* Users in general: .*carol"))
    dave = await irc("dave")
    await dave.send("JOIN #general letmein")
    await dave.expect(":irc.test 471 dave #general :Cannot join channel (+l) - channel is full")
    await bob.send("MODE #general")
    await bob.expect(re.compile(r":irc.test 324 bob #general \+kln letmein 3"))
    await alice.send("/mode -k", "/mode +l 4")
    await alice.expect("* alice set mode -k * on general")
    await alice.expect("* alice set mode +l 4 on general")
    await dave.send("JOIN #general")
    await dave.expect(re.compile(r":irc.test 366 dave #general :.*"))


async def test_bad_mode_arguments_get_one_clear_line_and_change_nothing(
    connect: Connect, irc: IrcConnect
) -> None:
    alice, bob = await text_op_and_irc_bob(connect, irc)
    await alice.send("/mode +l lots", "/mode +x", "/op nobody", "/mode +k two,keys")
    assert await alice.line() == "! Invalid limit: must be a number from 1 to 1000000."
    assert await alice.line() == '! Unknown mode "x". Modes: b e I k l m i n t s o v.'
    assert await alice.line() == '! No user named "nobody".'
    assert await alice.line() == (
        "! Invalid key: contains a space, a comma or a control character."
    )
    await alice.send("/mode")
    assert await alice.line() == "* Modes of general: +n"
    await bob.send("MODE #general +l :-1")
    await bob.expect(":irc.test 482 bob #general :You're not a channel operator")
    await alice.send("/op bob")
    await bob.expect(":alice!~alice@127.0.0.1 MODE #general +o bob")
    await bob.send("MODE #general +l :-1", "MODE #general +k :a b")
    bad_limit = "Invalid mode parameter: must be a number from 1 to 1000000"
    await bob.expect(f":irc.test 696 bob #general l -1 :{bad_limit}")
    await bob.expect(re.compile(r":irc.test 696 bob #general k \* :Invalid mode parameter: .*"))


async def test_the_last_operator_leaving_hands_the_room_to_the_longest_present(
    connect: Connect, irc: IrcConnect
) -> None:
    alice, bob = await text_op_and_irc_bob(connect, irc)
    carol = await in_room(connect, "carol", "general")
    await alice.send("/leave")
    await carol.expect("* alice has left general")
    assert await carol.line() == "* bob is now an operator of general (the last operator left)"
    await bob.expect(":irc.test MODE #general +o bob")
    await bob.send("KICK #general carol :my room now")
    await carol.expect("* carol was kicked from general by bob (my room now)")


async def test_a_ban_that_matches_everyone_shows_its_operator_whom(connect: Connect) -> None:
    alice = await in_room(connect, "alice", "general", create=True)
    bob = await in_room(connect, "bob", "general")
    await alice.send("/ban *")
    await alice.expect("* alice set mode +b *!*@* on general")
    assert await alice.line() == "* *!*@* matches 2 members of general: alice, bob"
    await bob.expect("* alice set mode +b *!*@* on general")
    await bob.send("hi")
    assert await bob.line() == "! You are banned from general: you may not speak in it."
    await alice.send("operators still speak")
    await bob.expect(re.compile(rf"{HHMM} <alice> operators still speak"))


async def test_invite_notify_tells_the_room_on_irc_as_it_does_on_the_text_door(
    connect: Connect, irc: IrcConnect
) -> None:
    bob, alice = await irc_op_and_text_alice(connect, irc)
    carol = await irc("carol", ("invite-notify",))
    dave = await irc("dave")
    await carol.join("#general")
    await dave.join("#general")
    await bob.send("INVITE erin #general")  # nobody by that name yet
    await bob.expect(":irc.test 401 bob erin :No such nick/channel")
    erin = await connect("erin")
    await bob.send("INVITE erin #general", "PING :done")
    assert await bob.line() == ":irc.test 341 bob erin #general"
    assert await bob.line() == ":irc.test PONG irc.test done"  # no INVITE of its own
    await carol.expect(":bob!~bob@127.0.0.1 INVITE erin #general")
    await alice.expect("* bob invited erin to general")
    assert await erin.line() == "* bob invited you to general (/join general)"
    await dave.send("PING :nothing before this")
    lines = await dave.expect(":irc.test PONG irc.test :nothing before this")
    assert not any("INVITE" in line for line in lines)  # no invite-notify, no INVITE


async def test_operator_status_comes_back_with_a_reclaimed_ghost_not_with_a_bare_name(
    connect: Connect,
) -> None:
    ghost, code = await login_with_code(connect, "alice")
    await ghost.create("general")
    bob = await in_room(connect, "bob", "general")
    fresh, lines = await reclaim(connect, "alice", code)  # the ghost still holds the name
    assert lines == ["* Welcome back, alice!"]
    match = CODE.fullmatch(await fresh.line())
    assert match is not None
    await fresh.expect("* Users in general: @alice, bob")
    await fresh.send("/quit")  # the name is freed; bob keeps the room
    await bob.expect("* bob is now an operator of general (the last operator left)")
    again, lines = await reclaim(connect, "alice", match[1])
    assert lines == ["* Welcome back, alice!"]
    await again.expect("Enter your choice:")
    await again.send("/join general", "/op alice")
    await again.expect("* Users in general: alice, @bob")
    assert await again.line() == "! You are not an operator of general."
