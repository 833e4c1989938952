"""The IRC door's questions (WHO, WHOIS, WHOWAS, LIST, ...), socket-free: IrcSessions
over one registry, lines in, exact lines out. Text-door users are asked about too."""

from __future__ import annotations

import importlib.metadata
import time
import tomllib
from pathlib import Path

import pytest

from config.options import parse_args
from config.settings import Config
from doors.irc.commands import COMMANDS
from doors.irc.server_info import PYPROJECT, VERSION, version
from doors.irc.session import IrcDoor, IrcSession
from doors.irc.usage import TOPICS
from doors.text.session import Session
from rooms import RoomManager

NOON = time.mktime((2026, 11, 25, 12, 34, 0, 0, 0, -1))


class Client:
    """An IRC session with its output captured."""

    def __init__(self, door: IrcDoor, host: str = "127.0.0.1") -> None:
        self.out: list[str] = []
        self.session = IrcSession(door, self.out.append, host=host)

    async def send(self, *lines: str) -> list[str]:
        """Feed lines; return what came out for them."""
        self.out.clear()
        for text in lines:
            pending = self.session.feed_nowait(text)
            if pending is not None:
                await pending
        return list(self.out)


@pytest.fixture
def rooms() -> RoomManager:
    return RoomManager(clock=lambda: NOON, defer=lambda flush: flush())


@pytest.fixture
def door(rooms: RoomManager) -> IrcDoor:
    return IrcDoor(rooms, Config(irc_server_name="irc.test"))


async def irc(door: IrcDoor, nick: str, *chans: str, realname: str = "Real Name") -> Client:
    """A registered IRC client in these channels, its output cleared."""
    client = Client(door)
    await client.send(f"NICK {nick}", f"USER u{nick} 0 * :{realname}")
    assert client.out[0].startswith(f":irc.test 001 {nick} "), client.out
    for chan in chans:
        await client.send(f"JOIN {chan}")
    client.out.clear()
    return client


async def text_user(rooms: RoomManager, name: str, room: str) -> Session:
    """A text-door user who made `room`."""
    out: list[str] = []
    session = Session(rooms, Config(), out.append, peer="10.0.0.7:5555")
    session.start()
    await session.feed(name)
    await session.feed(f"/create {room}")
    return session


async def test_a_line_s_carriage_return_is_not_part_of_its_last_parameter(
    door: IrcDoor,
) -> None:
    alice = await irc(door, "alice")
    bob = await irc(door, "bob")
    await alice.send("PRIVMSG bob :hi there\r")
    assert bob.out == [":alice!~ualice@127.0.0.1 PRIVMSG bob :hi there"]


# --- WHO and WHOX. ---
@pytest.fixture
async def lobby(rooms: RoomManager, door: IrcDoor) -> tuple[Client, Client]:
    """carol (text door) made room lobby; alice and bob (IRC) joined #lobby after."""
    await text_user(rooms, "carol", "lobby")
    return await irc(door, "alice", "#lobby"), await irc(door, "bob", "#lobby")


async def test_who_a_channel_lists_users_of_both_doors_with_flags(
    lobby: tuple[Client, Client],
) -> None:
    alice, bob = lobby
    await alice.send("AWAY :lunch")
    assert await bob.send("WHO #LOBBY") == [
        ":irc.test 352 bob #lobby ~ualice 127.0.0.1 irc.test alice G :0 Real Name",
        ":irc.test 352 bob #lobby ~ubob 127.0.0.1 irc.test bob H :0 Real Name",
        ":irc.test 352 bob #lobby ~carol 10.0.0.7 irc.test carol H@ :0 ",
        ":irc.test 315 bob #LOBBY :End of /WHO list",
    ]


async def test_who_shows_every_prefix_only_with_multi_prefix(
    rooms: RoomManager, lobby: tuple[Client, Client]
) -> None:
    _, bob = lobby
    room, carol = rooms.room("lobby"), rooms.find("carol")
    assert room is not None and carol is not None
    room.set_voiced(carol, True)
    assert (await bob.send("WHO carol"))[0].split()[8] == "H@"
    await bob.send("CAP REQ multi-prefix")
    assert (await bob.send("WHO carol"))[0].split()[8] == "H@+"


@pytest.mark.parametrize(
    ("mask", "nicks"),
    [
        ("ALICE", ["alice"]),
        ("a*", ["alice"]),
        ("?o?", ["bob"]),
        ("*real*", ["alice", "bob"]),
        ("10.0.0.*", ["carol"]),
        ("~c*", ["carol"]),
        ("*", ["alice", "bob", "carol"]),
        ("nobody", []),
    ],
)
async def test_who_a_mask_matches_nick_user_host_or_realname_in_any_case(
    lobby: tuple[Client, Client], mask: str, nicks: list[str]
) -> None:
    _, bob = lobby
    *replies, end = await bob.send(f"WHO {mask}")
    assert [reply.split()[7] for reply in replies] == nicks
    assert end == f":irc.test 315 bob {mask} :End of /WHO list"


async def test_who_outside_a_channel_shows_the_member_s_channel_or_a_star(
    rooms: RoomManager, door: IrcDoor
) -> None:
    alice = await irc(door, "alice", "#a", "#b")
    loner = await irc(door, "loner")
    assert (await loner.send("WHO alice"))[0].split()[3] == "#a"
    assert (await alice.send("WHO loner"))[0].split()[3] == "*"


async def test_who_for_operators_finds_none(lobby: tuple[Client, Client]) -> None:
    _, bob = lobby
    assert await bob.send("WHO * o") == [":irc.test 315 bob * :End of /WHO list"]


async def test_whox_gives_the_fields_asked_for_in_the_spec_s_order(
    lobby: tuple[Client, Client],
) -> None:
    _, bob = lobby
    assert await bob.send("WHO alice %ronlfdahsiuct,42") == [
        ":irc.test 354 bob 42 #lobby ~ualice 127.0.0.1 127.0.0.1 irc.test alice H 0 0 0 n/a "
        ":Real Name",
        ":irc.test 315 bob alice :End of /WHO list",
    ]
    assert (await bob.send("WHO carol %nr"))[0] == ":irc.test 354 bob carol :"
    assert (await bob.send("WHO carol %tn"))[0] == ":irc.test 354 bob 0 carol"
    assert (await bob.send("WHO #lobby %n,7"))[:-1] == [
        ":irc.test 354 bob alice",
        ":irc.test 354 bob bob",
        ":irc.test 354 bob carol",
    ]


# --- WHOIS, WHOWAS, USERHOST, ISON. ---
SIGNON = int(NOON)


async def test_whois_tells_who_where_and_since_when(lobby: tuple[Client, Client]) -> None:
    _, bob = lobby
    assert await bob.send("WHOIS alice") == [
        ":irc.test 311 bob alice ~ualice 127.0.0.1 * :Real Name",
        ":irc.test 319 bob alice #lobby",
        ":irc.test 312 bob alice irc.test :chatroom, a terminal chat server",
        f":irc.test 317 bob alice 0 {SIGNON} :seconds idle, signon time",
        ":irc.test 318 bob alice :End of /WHOIS list",
    ]


async def test_whois_a_text_door_user_shows_its_room_as_a_channel_and_away(
    rooms: RoomManager, lobby: tuple[Client, Client]
) -> None:
    _, bob = lobby
    carol = rooms.find("carol")
    assert carol is not None
    rooms.set_away(carol, "brb")
    replies = await bob.send("WHOIS Carol")
    assert replies[:2] == [
        ":irc.test 311 bob carol ~carol 10.0.0.7 * :",
        ":irc.test 319 bob carol @#lobby",
    ]
    assert ":irc.test 301 bob carol brb" in replies
    assert replies[-1] == ":irc.test 318 bob Carol :End of /WHOIS list"


@pytest.mark.parametrize("server", ["irc.test", "IRC.*", "alice"])
async def test_whois_may_name_this_server_or_the_user_first(
    lobby: tuple[Client, Client], server: str
) -> None:
    _, bob = lobby
    replies = await bob.send(f"WHOIS {server} alice")
    assert [reply.split()[1] for reply in replies] == ["311", "319", "312", "317", "318"]


async def test_whois_of_another_server_or_nobody_is_an_error(
    lobby: tuple[Client, Client],
) -> None:
    _, bob = lobby
    assert await bob.send("WHOIS elsewhere.net alice") == [
        ":irc.test 402 bob elsewhere.net :No such server"
    ]
    assert await bob.send("WHOIS nobody") == [
        ":irc.test 401 bob nobody :No such nick/channel",
        ":irc.test 318 bob nobody :End of /WHOIS list",
    ]
    assert await bob.send("WHOIS") == [":irc.test 431 bob :No nickname given"]


async def test_whowas_gives_who_had_a_name_latest_first_up_to_count(door: IrcDoor) -> None:
    alice = await irc(door, "alice")
    first = await irc(door, "bob", realname="First Bob")
    await first.send("NICK robert")
    await first.send("QUIT :bye")
    second = await irc(door, "bob", realname="Second Bob")
    await second.send("QUIT")
    when = time.strftime("%a %b %d %H:%M:%S %Y UTC", time.gmtime(NOON))
    assert await alice.send("WHOWAS BOB") == [
        ":irc.test 314 alice bob ~ubob 127.0.0.1 * :Second Bob",
        f":irc.test 312 alice bob irc.test :{when}",
        ":irc.test 314 alice bob ~ubob 127.0.0.1 * :First Bob",
        f":irc.test 312 alice bob irc.test :{when}",
        ":irc.test 369 alice BOB :End of WHOWAS",
    ]
    assert len(await alice.send("WHOWAS bob 1")) == 3
    assert len(await alice.send("WHOWAS bob 0")) == 5
    assert len(await alice.send("WHOWAS bob -1")) == 5
    assert (await alice.send("WHOWAS robert"))[0].endswith("robert ~ubob 127.0.0.1 * :First Bob")


async def test_whowas_of_a_name_nobody_had_or_no_name_is_an_error(door: IrcDoor) -> None:
    alice = await irc(door, "alice")
    assert await alice.send("WHOWAS bob") == [
        ":irc.test 406 alice bob :There was no such nickname",
        ":irc.test 369 alice bob :End of WHOWAS",
    ]
    assert await alice.send("WHOWAS") == [":irc.test 431 alice :No nickname given"]


async def test_userhost_shows_user_and_host_and_whether_away(
    rooms: RoomManager, lobby: tuple[Client, Client]
) -> None:
    alice, bob = lobby
    await alice.send("AWAY :out")
    assert await bob.send("USERHOST nobody ALICE carol") == [
        ":irc.test 302 bob :alice=-~ualice@127.0.0.1 carol=+~carol@10.0.0.7"
    ]
    assert await bob.send("USERHOST nobody") == [":irc.test 302 bob :"]


async def test_ison_says_which_nicks_are_on_as_they_spell_them(
    lobby: tuple[Client, Client],
) -> None:
    _, bob = lobby
    assert await bob.send("ISON nobody ALICE :Carol x") == [":irc.test 303 bob :alice carol"]
    assert await bob.send("ISON") == [":irc.test 461 bob ISON :Not enough parameters"]


# --- LIST. ---
async def test_list_shows_rooms_of_both_doors_with_counts_and_topics(
    rooms: RoomManager, lobby: tuple[Client, Client]
) -> None:
    alice, bob = lobby
    await alice.send("JOIN #quiet")
    room, carol = rooms.room("lobby"), rooms.find("carol")
    assert room is not None and carol is not None
    rooms.set_topic(carol, room, "Say hello")
    assert await bob.send("LIST") == [
        ":irc.test 321 bob Channel :Users  Name",
        ":irc.test 322 bob #lobby 3 :Say hello",
        ":irc.test 322 bob #quiet 1 :",
        ":irc.test 323 bob :End of /LIST",
    ]


@pytest.mark.parametrize(
    ("spec", "chans"),
    [
        ("#LOBBY", ["#lobby"]),
        ("#lobby,#quiet", ["#lobby", "#quiet"]),
        ("#nonexistent", []),
        ("*ui*", ["#quiet"]),
        ("!*ui*", ["#lobby"]),
        ("#*,!#l*", ["#quiet"]),
        (">1", ["#lobby"]),
        ("<2", ["#quiet"]),
        (">0,<100", ["#lobby", "#quiet"]),
        ("<1", []),
    ],
)
async def test_list_filters_by_name_mask_and_user_count(
    lobby: tuple[Client, Client], spec: str, chans: list[str]
) -> None:
    alice, bob = lobby
    await alice.send("JOIN #quiet")
    *listed, end = (await bob.send(f"LIST {spec}"))[1:]
    assert [reply.split()[3] for reply in listed] == chans
    assert end == ":irc.test 323 bob :End of /LIST"


async def test_list_filters_by_minutes_since_made_and_since_the_topic() -> None:
    now = [NOON]
    rooms = RoomManager(clock=lambda: now[0], defer=lambda flush: flush())
    door = IrcDoor(rooms, Config(irc_server_name="irc.test"))
    alice = await irc(door, "alice", "#old")
    await alice.send("TOPIC #old :old news")
    now[0] += 5 * 60
    await alice.send("JOIN #new")
    now[0] += 60

    async def listed(spec: str) -> list[str]:
        return [reply.split()[3] for reply in (await alice.send(f"LIST {spec}"))[1:-1]]

    assert await listed("C>2") == ["#old"]
    assert await listed("C<2") == ["#new"]
    assert await listed("c>0") == ["#new", "#old"]
    assert await listed("T>2") == ["#old"]
    assert await listed("T<2") == []  # #new has no topic to date


async def test_list_of_another_server_is_an_error(lobby: tuple[Client, Client]) -> None:
    _, bob = lobby
    assert await bob.send("LIST * elsewhere.net") == [
        ":irc.test 402 bob elsewhere.net :No such server"
    ]


async def test_whois_cuts_a_long_channel_list_into_lines(door: IrcDoor) -> None:
    chans = [f"#{i:02d}" + "x" * 28 for i in range(30)]
    await irc(door, "alice", *chans)
    bob = await irc(door, "bob")
    lines = [reply for reply in await bob.send("WHOIS alice") if " 319 " in reply]
    assert len(lines) > 1
    assert all(len(reply.encode()) <= 510 for reply in lines)
    listed = [word.lstrip(":@") for reply in lines for word in reply.split()[4:]]
    assert listed == chans


# --- The server itself: LUSERS, MOTD, TIME, VERSION, ADMIN, INFO, LINKS. ---
async def test_lusers_counts_users_of_both_doors_and_rooms(
    lobby: tuple[Client, Client],
) -> None:
    _, bob = lobby
    assert await bob.send("LUSERS") == [
        ":irc.test 251 bob :There are 3 users and 0 invisible on 1 servers",
        ":irc.test 252 bob 0 :operator(s) online",
        ":irc.test 254 bob 1 :channels formed",
        ":irc.test 255 bob :I have 3 clients and 0 servers",
        ":irc.test 265 bob 3 3 :Current local users 3, max 3",
        ":irc.test 266 bob 3 3 :Current global users 3, max 3",
    ]


async def test_lusers_keeps_the_most_there_have_been(door: IrcDoor) -> None:
    alice = await irc(door, "alice")
    bob = await irc(door, "bob")
    await bob.send("QUIT")
    lines = await alice.send("LUSERS")
    assert ":irc.test 265 alice 1 2 :Current local users 1, max 2" in lines
    assert ":irc.test 266 alice 1 2 :Current global users 1, max 2" in lines


async def test_motd_says_so_when_there_is_none(door: IrcDoor) -> None:
    alice = await irc(door, "alice")
    assert await alice.send("MOTD") == [":irc.test 422 alice :MOTD File is missing"]
    assert await alice.send("MOTD elsewhere.net") == [
        ":irc.test 402 alice elsewhere.net :No such server"
    ]


async def test_time_is_the_server_s_clock_in_utc(door: IrcDoor) -> None:
    alice = await irc(door, "alice")
    when = time.strftime("%A %B %d %Y -- %H:%M:%S +00:00", time.gmtime(NOON))
    assert await alice.send("TIME") == [f":irc.test 391 alice irc.test :{when}"]
    assert await alice.send("TIME irc.test") == [f":irc.test 391 alice irc.test :{when}"]


async def test_version_names_the_software_then_what_it_supports(door: IrcDoor) -> None:
    alice = await irc(door, "alice")
    replies = await alice.send("VERSION")
    assert replies[0] == ":irc.test 351 alice chatroom-0.2.0 irc.test :chatroom's IRC door"
    assert [reply.split()[1] for reply in replies[1:]] == ["005", "005", "005"]
    assert "WHOX" in replies[3].split() and "ELIST=CMNTU" in replies[1].split()


async def test_admin_and_info_answer_with_their_numerics(door: IrcDoor) -> None:
    alice = await irc(door, "alice")
    assert [reply.split()[1] for reply in await alice.send("ADMIN")] == [
        "256", "257", "258", "259",
    ]  # fmt: skip
    *info, end = await alice.send("INFO")
    assert info and all(reply.split()[1] == "371" for reply in info)
    assert end == ":irc.test 374 alice :End of /INFO list"


async def test_links_shows_this_one_server(door: IrcDoor) -> None:
    alice = await irc(door, "alice")
    assert await alice.send("LINKS") == [
        ":irc.test 364 alice irc.test irc.test :0 chatroom, a terminal chat server",
        ":irc.test 365 alice * :End of /LINKS list",
    ]
    assert await alice.send("LINKS *.net") == [":irc.test 365 alice *.net :End of /LINKS list"]


def test_the_server_s_description_comes_from_the_command_line() -> None:
    assert parse_args([]).irc_server_info == "chatroom, a terminal chat server"
    assert parse_args(["--irc-server-info", "test server"]).irc_server_info == "test server"


# --- HELP. ---
async def test_help_lists_the_commands_then_tells_of_one(door: IrcDoor) -> None:
    alice = await irc(door, "alice")
    first, *listing, end = await alice.send("HELP")
    assert first == ":irc.test 704 alice * :Commands you can use; HELP <command> tells more:"
    assert all(reply.startswith(":irc.test 705 alice * :") for reply in listing)
    assert "PRIVMSG" in " ".join(listing).split()
    assert end == ":irc.test 706 alice * :End of /HELP"
    assert await alice.send("HELPOP privmsg") == [
        ":irc.test 704 alice PRIVMSG :PRIVMSG <target>{,<target>} :<text>",
        ":irc.test 705 alice PRIVMSG :Sends text to channels or users.",
        ":irc.test 706 alice PRIVMSG :End of /HELP",
    ]


async def test_help_on_what_is_not_a_command_is_an_error(door: IrcDoor) -> None:
    alice = await irc(door, "alice")
    assert await alice.send("HELP frobnicate") == [
        ":irc.test 524 alice frobnicate :No help available on this topic"
    ]


def test_every_command_has_help_and_all_help_is_of_commands() -> None:
    assert sorted(TOPICS) == sorted(COMMANDS)


# --- Bot mode (IRCv3 bot-mode: ISUPPORT BOT=B). ---
async def tagged(door: IrcDoor, nick: str, *caps: str) -> Client:
    """A registered IRC client that negotiated `caps`, its output cleared."""
    client = Client(door)
    await client.send("CAP LS 302", f"CAP REQ :{' '.join(caps)}")
    await client.send(f"NICK {nick}", f"USER u{nick} 0 * :{nick}", "CAP END")
    assert any(f" 001 {nick} " in x for x in client.out), client.out
    client.out.clear()
    return client


def tag_keys(text: str) -> list[str]:
    """The names of a line's tags (none without them)."""
    head = text.split(" ", 1)[0]
    return [item.split("=")[0] for item in head[1:].split(";")] if head[:1] == "@" else []


def untagged(text: str) -> str:
    return text.split(" ", 1)[1] if text.startswith("@") else text


async def test_a_bot_sets_and_clears_its_mode_and_whois_says_it_is_one(door: IrcDoor) -> None:
    bot = await irc(door, "bot")
    user = await irc(door, "user")
    assert await bot.send("MODE bot +B") == [":bot!~ubot@127.0.0.1 MODE bot +B"]
    assert await bot.send("MODE bot") == [":irc.test 221 bot +B"]
    replies = await user.send("WHOIS bot")
    assert ":irc.test 335 user bot :is a bot on chatroom" in replies
    assert replies.index(":irc.test 335 user bot :is a bot on chatroom") < len(replies) - 1
    assert await bot.send("MODE bot -B") == [":bot!~ubot@127.0.0.1 MODE bot -B"]
    assert not any(" 335 " in x for x in await user.send("WHOIS bot"))


async def test_who_and_whox_flag_a_bot_with_b(door: IrcDoor) -> None:
    bot = await irc(door, "bot", "#chan")  # made it: an operator
    user = await irc(door, "user", "#chan")
    await bot.send("MODE bot +B")
    assert await user.send("WHO #chan") == [
        ":irc.test 352 user #chan ~ubot 127.0.0.1 irc.test bot HB@ :0 Real Name",
        ":irc.test 352 user #chan ~uuser 127.0.0.1 irc.test user H :0 Real Name",
        ":irc.test 315 user #chan :End of /WHO list",
    ]
    assert (await user.send("WHO bot %nf"))[0] == ":irc.test 354 user bot HB@"


async def test_a_bot_s_messages_carry_the_bot_tag_to_clients_with_message_tags(
    door: IrcDoor,
) -> None:
    bot = await tagged(door, "bot", "echo-message", "message-tags")
    tags = await tagged(door, "tags", "message-tags")
    plain = await irc(door, "plain")
    for client in (bot, tags, plain):
        await client.send("JOIN #chan")
    await bot.send("MODE bot +B")
    tags.out.clear()
    plain.out.clear()
    for _ in range(2):  # the second line would take the fast way, were it not a bot's
        echo = await bot.send("PRIVMSG #chan :beep boop")
        assert [untagged(x) for x in echo] == [":bot!~ubot@127.0.0.1 PRIVMSG #chan :beep boop"]
        assert "bot" in tag_keys(echo[0])
        (heard,) = tags.out
        assert "bot" in tag_keys(heard), heard
        assert plain.out == [":bot!~ubot@127.0.0.1 PRIVMSG #chan :beep boop"]
        tags.out.clear()
        plain.out.clear()
    echo = await bot.send("PRIVMSG tags :beep", "NOTICE plain :boop")
    assert "bot" in tag_keys(echo[0]), echo
    assert "bot" in tag_keys(tags.out[0]), tags.out
    assert plain.out == [":bot!~ubot@127.0.0.1 NOTICE plain boop"]


async def test_a_client_cannot_forge_the_bot_tag(door: IrcDoor) -> None:
    sender = await tagged(door, "sender", "message-tags")
    tags = await tagged(door, "tags", "message-tags")
    await sender.send("@bot;+bot PRIVMSG tags :hi")
    (heard,) = tags.out
    assert "bot" not in tag_keys(heard), heard


# --- Idle: since the user last spoke. ---
async def test_whois_idle_counts_from_the_last_message_or_action_of_either_door() -> None:
    now = [NOON]
    rooms = RoomManager(clock=lambda: now[0], defer=lambda flush: flush())
    door = IrcDoor(rooms, Config(irc_server_name="irc.test"))
    alice = await irc(door, "alice", "#lobby")
    bob = await irc(door, "bob", "#lobby")
    carol = await text_user(rooms, "carol", "talk")

    async def idle(nick: str) -> int:
        (reply,) = [x for x in await alice.send(f"WHOIS {nick}") if " 317 " in x]
        return int(reply.split()[4])

    now[0] += 100
    assert await idle("bob") == 100  # from signon, before a word
    for text in ("PRIVMSG #lobby :first", "PRIVMSG #lobby :fast way"):
        now[0] += 10
        await bob.send(text)
        now[0] += 5
        assert await idle("bob") == 5
    now[0] += 30
    await bob.send("PING x", "PONG x", "WHO #lobby", "JOIN #other", "AWAY :out", "AWAY")
    assert await idle("bob") == 35  # other commands are not speaking
    await bob.send("PRIVMSG alice :hi")
    assert await idle("bob") == 0
    now[0] += 7
    await bob.send("PRIVMSG #lobby :\x01ACTION waves\x01")
    now[0] += 1
    assert await idle("bob") == 1
    await bob.send("NOTICE #lobby :note")
    assert await idle("bob") == 0
    assert await idle("alice") == 168  # the asker too: it has said nothing
    (whox,) = [x for x in await alice.send("WHO bob %nl") if " 354 " in x]
    assert whox == ":irc.test 354 alice bob 0"
    assert await idle("carol") == 168
    await carol.feed("hello from the text door")
    now[0] += 2
    assert await idle("carol") == 2
    await carol.feed("/me waves")
    assert await idle("carol") == 0
    now[0] += 3
    await carol.feed("/msg bob psst")
    assert await idle("carol") == 0


# --- The version: pyproject.toml's, in one place. ---
def test_the_version_is_pyproject_s_in_a_checkout_and_the_metadata_s_when_installed(
    tmp_path: Path,
) -> None:
    with PYPROJECT.open("rb") as file:
        written = tomllib.load(file)["project"]["version"]
    assert version() == written == "0.2.0"  # this checkout: read from the file itself
    assert f"chatroom-{written}" == VERSION
    # An installed copy has no pyproject.toml beside it (nor one of another project's).
    other = tmp_path / "pyproject.toml"
    other.write_text('[project]\nname = "other"\nversion = "9.9"\n')
    for missing in (tmp_path / "none.toml", other):
        assert version(missing) == importlib.metadata.version("chatroom")


def test_without_an_install_or_a_pyproject_the_version_is_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    assert version(tmp_path / "none.toml") == "unknown"


async def test_the_welcome_names_the_version(door: IrcDoor) -> None:
    client = Client(door)
    out = await client.send("NICK v", "USER v 0 * :v")
    assert f":irc.test 004 v irc.test {VERSION} " in "\n".join(out)
