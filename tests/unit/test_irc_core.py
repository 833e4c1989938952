"""The socket-free IRC core: message parsing and formatting, and IrcSession driven
line by line on a registry that flushes at once. Exact lines, as a client reads them."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

import registry as r
from config.settings import Config
from doors.irc.history import stamped
from doors.irc.message import (
    Message,
    add_tags,
    client_tags,
    escape_tag,
    format_tags,
    line,
    parse,
    parse_tags,
    unescape_tag,
)
from doors.irc.session import CAPS, IrcDoor, IrcSession
from rooms import RoomManager

TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
WELCOME = [
    "001",
    "002",
    "003",
    "004",
    "005",
    "005",
    "005",
    "251",
    "252",
    "254",
    "255",
    "265",
    "266",
]


@pytest.fixture
def rooms() -> RoomManager:
    return RoomManager(defer=lambda flush: flush())


@pytest.fixture
def door(rooms: RoomManager) -> IrcDoor:
    return IrcDoor(rooms, Config(irc_server_name="irc.test"))


class Client:
    """An IrcSession with its output captured: what it sends and what its rooms write."""

    def __init__(self, door: IrcDoor) -> None:
        self.out: list[str] = []
        self.session = IrcSession(door, self.out.append)

    async def send(self, *lines: str) -> list[str]:
        """Feed lines, each to the end; return what came out for them (and drop it)."""
        self.out.clear()
        for text in lines:
            pending = self.session.feed_nowait(text)
            if pending is not None:
                await pending
        lines_out, self.out[:] = list(self.out), []
        return lines_out

    def take(self) -> list[str]:
        """What came out since the last send or take (lines from others' actions)."""
        lines, self.out[:] = list(self.out), []
        return lines


async def registered(door: IrcDoor, nick: str, *caps: str) -> Client:
    """A client past its welcome, with `caps` negotiated first."""
    client = Client(door)
    if caps:
        await client.send("CAP LS 302", f"CAP REQ :{' '.join(caps)}")
    out = await client.send(f"NICK {nick}", f"USER {nick} 0 * :{nick}", "CAP END")
    assert out[0] == f":irc.test 001 {nick} :Welcome to the chatroom IRC network, {nick}"
    client.out.clear()
    return client


def numerics(lines: list[str]) -> list[str]:
    return [text.split()[1] for text in lines]


# --- message.py: parsing ---


def test_a_line_parses_into_tags_source_command_and_params() -> None:
    msg = parse(r"@label=a\sb;+typing=active;flag :nick!u@h privmsg #room :hello  there ")
    assert msg == Message(
        "PRIVMSG",
        ["#room", "hello  there "],
        {"label": "a b", "+typing": "active", "flag": ""},
        "nick!u@h",
        r"label=a\sb;+typing=active;flag",
    )


@pytest.mark.parametrize(
    ("text", "params"),
    [
        ("PRIVMSG #a :", ["#a", ""]),
        ("PRIVMSG #a ::-)", ["#a", ":-)"]),
        ("PRIVMSG   #a   b", ["#a", "b"]),
        ("USER u 0 * :Real Name", ["u", "0", "*", "Real Name"]),
        ("PING :", [""]),
        ("QUIT", []),
    ],
)
def test_params_split_at_spaces_and_a_trailing_param_is_kept_whole(
    text: str, params: list[str]
) -> None:
    msg = parse(text)
    assert msg is not None
    assert msg.params == params


@pytest.mark.parametrize("text", ["", "   ", "@a=b", "@a=b   ", ":source", ":source   "])
def test_a_line_without_a_command_parses_to_none(text: str) -> None:
    assert parse(text) is None


@pytest.mark.parametrize("space", ["\t", "\xa0", "\u3000"])
def test_only_the_space_character_separates_params(space: str) -> None:
    msg = parse(f"PRIVMSG #a a{space}b")
    assert msg is not None
    assert msg.params == ["#a", f"a{space}b"]


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (r"a\:b", "a;b"),
        (r"a\sb", "a b"),
        (r"a\\b", "a\\b"),
        (r"\r\n", "\r\n"),
        (r"\x", "x"),  # an unknown escape is the character itself
        ("end\\", "end"),  # a lone backslash at the end is dropped
        ("plain", "plain"),
    ],
)
def test_tag_values_unescape_as_ircv3_says(raw: str, value: str) -> None:
    assert unescape_tag(raw) == value


def test_a_tag_without_a_value_is_empty_and_a_repeated_key_keeps_the_last() -> None:
    assert parse_tags("a;b=;c=1;c=2") == {"a": "", "b": "", "c": "2"}


# --- message.py: formatting ---


@pytest.mark.parametrize(
    ("params", "text"),
    [
        (("#a", "hi"), ":irc.test PRIVMSG #a hi"),
        (("#a", "hi there"), ":irc.test PRIVMSG #a :hi there"),
        (("#a", ":-)"), ":irc.test PRIVMSG #a ::-)"),
        (("#a", ""), ":irc.test PRIVMSG #a :"),
        ((), ":irc.test PRIVMSG"),
    ],
)
def test_the_last_param_gets_a_colon_only_when_it_needs_one(
    params: tuple[str, ...], text: str
) -> None:
    assert line("irc.test", "PRIVMSG", *params) == text


def test_a_line_without_a_source_has_no_colon_before_its_command() -> None:
    assert line("", "ERROR", "Closing link: x (Quit)") == "ERROR :Closing link: x (Quit)"


def test_tags_are_escaped_and_merged_into_a_line_that_has_some() -> None:
    assert format_tags({"a": "x y;z", "b": ""}) == r"@a=x\sy\:z;b "
    assert format_tags({}) == ""
    assert add_tags(":s PING x", {"label": "1"}) == "@label=1 :s PING x"
    assert add_tags("@time=t :s PING x", {"batch": "b"}) == "@batch=b;time=t :s PING x"
    assert add_tags(":s PING x", {}) == ":s PING x"


def test_only_client_tags_are_relayed() -> None:
    assert (
        client_tags({"label": "1", "+typing": "active", "+x": "a b"}) == r"+typing=active;+x=a\sb"
    )
    assert client_tags({"label": "1"}) == ""


# --- message.py: round trips ---

TAG_VALUE = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]))
TAG_KEY = st.from_regex(r"\+?[a-z][a-z0-9-]{0,8}(/[a-z0-9.-]{1,8})?", fullmatch=True)
# Parameters as they are legal in a line: no NUL, CR or LF; separated by spaces only.
# (Other whitespace is left out here: see test_only_the_space_character_separates_params.)
PARAM_CHARS = st.characters(
    exclude_characters="\x00\r\n\t\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2028\u2029"
    "\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B))),
    exclude_categories=["Cs"],
)
MIDDLE = st.text(PARAM_CHARS, min_size=1).filter(lambda p: " " not in p and p[0] != ":")
LAST = st.text(PARAM_CHARS)


@given(TAG_VALUE)
def test_escaping_a_tag_value_and_unescaping_it_gives_it_back(value: str) -> None:
    escaped = escape_tag(value)
    assert not set(escaped) & set("; \r\n\x00")
    assert unescape_tag(escaped) == value


@given(st.dictionaries(TAG_KEY, TAG_VALUE, max_size=5))
def test_formatted_tags_parse_back_to_the_same_tags(tags: dict[str, str]) -> None:
    formatted = format_tags(tags)
    assert parse_tags(formatted[1:-1]) == tags


@given(
    st.dictionaries(TAG_KEY, TAG_VALUE, max_size=3),
    st.from_regex(r"[A-Z]{1,8}|[0-9]{3}", fullmatch=True),
    st.lists(MIDDLE, max_size=5),
    st.none() | LAST,
)
def test_a_formatted_line_parses_back_to_its_parts(
    tags: dict[str, str], command: str, middle: list[str], last: str | None
) -> None:
    params = [*middle, *([] if last is None else [last])]
    text = format_tags(tags) + line("nick!user@host", command, *params)
    assert "\r" not in text and "\n" not in text
    msg = parse(text)
    assert msg is not None
    assert (msg.tags, msg.source, msg.command, msg.params) == (
        tags,
        "nick!user@host",
        command,
        params,
    )


# --- IrcSession: registration ---


async def test_nick_then_user_registers_and_welcomes_with_001_to_005(door: IrcDoor) -> None:
    client = Client(door)
    assert await client.send("NICK alice") == []
    out = await client.send("USER al 0 * :Alice Liddell")
    assert numerics(out) == [*WELCOME, "422"]
    assert out[:3] == [
        ":irc.test 001 alice :Welcome to the chatroom IRC network, alice",
        ":irc.test 002 alice :Your host is irc.test, running version chatroom-0.2.0",
        out[2],
    ]
    assert re.fullmatch(
        r":irc.test 003 alice :This server was created \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", out[2]
    )
    assert out[3] == ":irc.test 004 alice irc.test chatroom-0.2.0 Biow beIiklmnostv beIklov"
    assert out[-1] == ":irc.test 422 alice :MOTD File is missing"
    member = door.rooms.find("alice")
    assert member is not None
    assert (member.mask, member.realname, member.door) == (
        "alice!~al@localhost",
        "Alice Liddell",
        "irc",
    )


async def test_user_then_nick_registers_too(door: IrcDoor) -> None:
    client = Client(door)
    assert await client.send("USER bob 0 * :Bob") == []
    assert numerics(await client.send("NICK bob")) == [*WELCOME, "422"]


async def test_the_motd_is_sent_when_there_is_one(rooms: RoomManager) -> None:
    door = IrcDoor(rooms, Config(irc_server_name="irc.test", motd=("Be nice.",)))
    out = await Client(door).send("NICK a", "USER a 0 * :a")
    assert out[-3:] == [
        ":irc.test 375 a :- irc.test Message of the day - ",
        ":irc.test 372 a :- Be nice.",
        ":irc.test 376 a :End of /MOTD command.",
    ]


async def test_isupport_advertises_the_limits_of_the_config(rooms: RoomManager) -> None:
    config = Config(
        irc_server_name="irc.test", max_name_chars=16, max_topic_chars=300, max_joined=7
    )
    out = await Client(IrcDoor(rooms, config)).send("NICK a", "USER a 0 * :a")
    tokens: list[str] = []
    for text in out:
        if text.split()[1] == "005":
            assert text.endswith(" :are supported by this server")
            params = text.split(" :")[0].split()[3:]
            assert len(params) <= 13, "RFC 2812: at most 15 params, nick and text included"
            tokens += params
    for token in (
        "CASEMAPPING=rfc1459", "CHANTYPES=#", "PREFIX=(ov)@+", "NICKLEN=16", "TOPICLEN=300",
        "CHANLIMIT=#:7", "CHANNELLEN=33", "CHANMODES=beI,k,l,imnst", "UTF8ONLY", "NETWORK=chatroom",
        "STATUSMSG=@+",
    ):  # fmt: skip
        assert token in tokens
    assert len(tokens) == len(set(tokens))


async def test_with_cap_registration_waits_for_cap_end(door: IrcDoor) -> None:
    client = Client(door)
    (ls,) = await client.send("CAP LS 302")
    offered = [cap.partition("=")[0] for cap in ls.split(" :", 1)[1].split()]
    assert offered == sorted((*CAPS, "draft/account-registration"))
    assert await client.send("NICK alice", "USER alice 0 * :A") == []
    assert await client.send("CAP REQ :server-time echo-message") == [
        ":irc.test CAP alice ACK :server-time echo-message"
    ]
    assert door.rooms.find("alice") is None
    assert numerics(await client.send("CAP END")) == [*WELCOME, "422"]
    assert await client.send("CAP END") == []  # once registered, CAP END does nothing


async def test_cap_req_alone_also_holds_registration_until_cap_end(door: IrcDoor) -> None:
    client = Client(door)
    await client.send("CAP REQ :batch", "NICK a", "USER a 0 * :a")
    assert door.rooms.find("a") is None
    assert numerics(await client.send("CAP END"))[0] == "001"


async def test_cap_ls_302_implies_cap_notify_and_plain_ls_does_not(door: IrcDoor) -> None:
    new = Client(door)
    await new.send("CAP LS 302")
    assert await new.send("CAP LIST") == [":irc.test CAP * LIST cap-notify"]
    old = Client(door)
    await old.send("CAP LS")
    assert await old.send("CAP LIST") == [":irc.test CAP * LIST :"]


async def test_cap_req_acks_all_or_naks_all(door: IrcDoor) -> None:
    client = Client(door)
    assert await client.send("CAP REQ :batch nonsense") == [":irc.test CAP * NAK :batch nonsense"]
    assert await client.send("CAP LIST") == [":irc.test CAP * LIST :"]
    await client.send("CAP REQ :batch message-tags")
    assert await client.send("CAP REQ -batch") == [":irc.test CAP * ACK -batch"]
    assert await client.send("CAP LIST") == [":irc.test CAP * LIST message-tags"]


async def test_an_unknown_cap_subcommand_is_410_and_a_bare_cap_461(door: IrcDoor) -> None:
    client = Client(door)
    assert await client.send("CAP FOO", "CAP") == [
        ":irc.test 410 * FOO :Invalid CAP command",
        ":irc.test 461 * CAP :Not enough parameters",
    ]


async def test_nick_errors_431_and_432(door: IrcDoor) -> None:
    client = Client(door)
    assert await client.send("NICK", "NICK :") == [
        ":irc.test 431 * :No nickname given",
        ":irc.test 431 * :No nickname given",
    ]
    bad = ["#chan", "bad!nick", "a@b", "x" * 25, "server", "SERVER", "a*b"]
    out = await client.send(*(f"NICK {nick}" for nick in bad))
    assert out == [f":irc.test 432 * {nick} :Erroneous nickname" for nick in bad]


@pytest.mark.parametrize("nick", ["alice", "ALICE", "Alice", "\uff41\uff4c\uff49\uff43\uff45"])
async def test_a_taken_nick_is_433_in_any_case_or_width(door: IrcDoor, nick: str) -> None:
    await registered(door, "alice")
    out = await Client(door).send(f"NICK {nick}")
    assert len(out) == 1 and re.fullmatch(
        r":irc.test 433 \* \S+ :Nickname is already in use", out[0]
    )


async def test_brackets_and_braces_are_one_nick_under_rfc1459(door: IrcDoor) -> None:
    await registered(door, "[a]\\")
    assert await Client(door).send("NICK {a}|") == [
        ":irc.test 433 * {a}| :Nickname is already in use"
    ]


async def test_a_nick_taken_between_nick_and_user_is_433_and_another_may_be_chosen(
    door: IrcDoor,
) -> None:
    first, second = Client(door), Client(door)
    await first.send("NICK alice")
    await second.send("NICK alice")  # free so far
    await first.send("USER a 0 * :a")
    out = await second.send("USER b 0 * :b")
    assert len(out) == 1 and out[0].endswith(" alice :Nickname is already in use")
    assert numerics(await second.send("NICK bob"))[0] == "001"


async def test_a_433_at_registration_is_addressed_to_star(door: IrcDoor) -> None:
    first, second = Client(door), Client(door)
    await first.send("NICK alice")
    await second.send("NICK alice")
    await first.send("USER a 0 * :a")
    assert await second.send("USER b 0 * :b") == [
        ":irc.test 433 * alice :Nickname is already in use"
    ]


async def test_commands_before_registration_are_451(door: IrcDoor) -> None:
    client = Client(door)
    assert await client.send("JOIN #a", "PRIVMSG bob :hi", "FOO") == [
        ":irc.test 451 * :You have not registered",
        ":irc.test 451 * :You have not registered",
        ":irc.test 451 * :You have not registered",
    ]


async def test_too_few_params_are_461(door: IrcDoor) -> None:
    client = Client(door)
    assert await client.send("USER a 0 *", "USER a 0 * :") == [
        ":irc.test 461 * USER :Not enough parameters",
        ":irc.test 461 * USER :Not enough parameters",
    ]
    await client.send("NICK a", "USER a 0 * :a")
    assert await client.send("JOIN", "PING") == [
        ":irc.test 461 a JOIN :Not enough parameters",
        ":irc.test 461 a PING :Not enough parameters",
    ]


async def test_user_or_pass_after_registration_is_462(door: IrcDoor) -> None:
    client = await registered(door, "alice")
    assert await client.send("USER a 0 * :again", "PASS secret") == [
        ":irc.test 462 alice :You may not reregister",
        ":irc.test 462 alice :You may not reregister",
    ]


async def test_what_only_registration_needs_is_let_go_of_at_the_welcome(
    rooms: RoomManager,
) -> None:
    """The server password, the asked nick, USER's words and the CAP negotiation are
    not kept past the welcome (an idle client's memory; a secret held no longer)."""
    door = IrcDoor(rooms, Config(irc_server_name="irc.test", password="hunter2"))
    client = Client(door)
    await client.send("CAP LS 302", "PASS hunter2", "NICK alice", "USER al 0 * :Alice A")
    session = client.session
    assert (session.password, session.asked_nick, session.negotiating) == ("hunter2", "alice", True)
    assert numerics(await client.send("CAP END"))[0] == "001"
    assert (session.password, session.asked_nick, session.negotiating) == ("", "", False)
    assert (session.user, session.realname, session.account, session.sasl) == ("", "", "", None)
    member = rooms.find("alice")
    assert member is not None and (member.user, member.realname) == ("~al", "Alice A")
    assert session.cap_version == 302  # CAP LS after the welcome still knows it


async def test_an_unknown_command_after_registration_is_421(door: IrcDoor) -> None:
    client = await registered(door, "alice")
    assert await client.send("FROBNICATE x") == [":irc.test 421 alice FROBNICATE :Unknown command"]
    assert await client.send("TAGMSG #a") == [":irc.test 421 alice TAGMSG :Unknown command"]


async def test_a_line_over_512_bytes_is_417_and_one_of_512_is_not(door: IrcDoor) -> None:
    client = await registered(door, "alice")
    fits = "PING " + "x" * 505  # 510 bytes and CRLF
    assert await client.send(fits) == [f":irc.test PONG irc.test {'x' * 505}"]
    assert await client.send(fits + "x") == [":irc.test 417 alice :Input line was too long"]
    assert await client.send(fits + "\r") == [f":irc.test PONG irc.test {'x' * 505}"]


async def test_a_message_too_long_to_relay_whole_is_417_and_not_cut(door: IrcDoor) -> None:
    alice = await registered(door, "alice")
    bob = await registered(door, "bob")
    await alice.send("JOIN #room")
    await bob.send("JOIN #room")
    await alice.send("PRIVMSG #room :warm")  # the fast way knows the room from now on
    bob.take()
    before = ":alice!~alice@localhost "  # what bob gets before alice's own line
    for target, text in [("#room", "x y"), ("bob", "x y"), ("#room", "x"), ("bob", "x")]:
        head = f"PRIVMSG {target} " + (":" if " " in text else "")  # no colon for one word
        fits = head + text + "x" * (510 - len(before) - len(head) - len(text))
        assert await alice.send(fits + "x") == [":irc.test 417 alice :Input line was too long"]
        assert bob.take() == []
        assert await alice.send(fits) == []
        assert bob.take() == [before + fits]  # 510 bytes: whole
    assert await alice.send("NOTICE bob :" + "x" * 490) == []  # a NOTICE is never answered
    assert bob.take() == []


async def test_client_tags_over_4096_bytes_are_417(door: IrcDoor) -> None:
    client = await registered(door, "alice")
    fits = "@+a=" + "x" * 4091  # with "@" and " ": 4096
    assert await client.send(f"{fits} PING t") == [":irc.test PONG irc.test t"]
    assert await client.send(f"{fits}x PING t") == [":irc.test 417 alice :Input line was too long"]


async def test_the_connection_hooks_word_their_lines(door: IrcDoor) -> None:
    client = Client(door)
    client.session.line_too_long(8704)
    client.session.ping()
    client.session.login_timed_out(60)
    assert client.out == [
        ":irc.test 417 * :Input line was too long",
        "PING irc.test",
        "ERROR :Closing link: localhost (Registration timed out)",
    ]
    assert client.session.is_closed


# --- IrcSession: labeled-response, echo-message, server-time ---


async def test_a_labeled_command_without_reply_gets_an_ack(door: IrcDoor) -> None:
    client = await registered(door, "alice", "labeled-response", "batch")
    assert await client.send("@label=L1 PONG irc.test") == ["@label=L1 :irc.test ACK"]


async def test_a_labeled_command_with_one_reply_gets_it_labeled(door: IrcDoor) -> None:
    client = await registered(door, "alice", "labeled-response", "batch")
    assert await client.send("@label=L2 PING tok") == ["@label=L2 :irc.test PONG irc.test tok"]
    assert await client.send("@label=L3 FOO") == [
        "@label=L3 :irc.test 421 alice FOO :Unknown command"
    ]


async def test_a_labeled_command_with_several_replies_gets_a_batch(door: IrcDoor) -> None:
    client = await registered(door, "alice", "labeled-response", "batch")
    out = await client.send("@label=L4 JOIN #room")
    start = re.fullmatch(r"@label=L4 :irc.test BATCH \+(\S+) labeled-response", out[0])
    assert start, out
    ref = start[1]
    assert out[1:] == [
        f"@batch={ref} :alice!~alice@localhost JOIN #room",
        f"@batch={ref} :irc.test 353 alice = #room @alice",
        f"@batch={ref} :irc.test 366 alice #room :End of /NAMES list",
        f":irc.test BATCH -{ref}",
    ]


async def test_a_label_is_ignored_without_the_capability(door: IrcDoor) -> None:
    client = await registered(door, "alice")
    assert await client.send("@label=L5 PING tok") == [":irc.test PONG irc.test tok"]
    assert await client.send("@label=L6 PONG tok") == []


async def test_echo_message_sends_the_sender_its_own_messages(door: IrcDoor) -> None:
    alice = await registered(door, "alice", "echo-message")
    bob = await registered(door, "bob")
    await alice.send("JOIN #room")
    await bob.send("JOIN #room")
    alice.take()
    assert await alice.send("PRIVMSG #room :hi all") == [
        ":alice!~alice@localhost PRIVMSG #room :hi all"
    ]
    assert bob.take() == [":alice!~alice@localhost PRIVMSG #room :hi all"]
    assert await bob.send("PRIVMSG #room :hi alice") == []  # bob did not ask for echoes
    assert await alice.send("PRIVMSG bob :psst") == [":alice!~alice@localhost PRIVMSG bob psst"]
    assert bob.take() == [":alice!~alice@localhost PRIVMSG bob psst"]


async def test_a_labeled_message_is_acked_without_echo_and_echoed_labeled_with_it(
    door: IrcDoor,
) -> None:
    plain = await registered(door, "plain", "labeled-response", "batch")
    echo = await registered(door, "echo", "labeled-response", "batch", "echo-message")
    await plain.send("JOIN #room")
    await echo.send("JOIN #room")
    assert await plain.send("@label=a PRIVMSG #room :one") == ["@label=a :irc.test ACK"]
    echo.take()
    assert await echo.send("@label=b PRIVMSG #room :two") == [
        "@label=b :echo!~echo@localhost PRIVMSG #room two"
    ]
    assert plain.take() == [":echo!~echo@localhost PRIVMSG #room two"]


async def test_server_time_and_message_tags_tag_messages_from_others(door: IrcDoor) -> None:
    timed = await registered(door, "timed", "server-time")
    tagged = await registered(door, "tagged", "server-time", "message-tags")
    plain = await registered(door, "plain")
    for client in (timed, tagged, plain):
        await client.send("JOIN #room")
    timed.take(), tagged.take()
    await plain.send("@+typing=done PRIVMSG #room :hello there")
    [got] = timed.take()
    assert re.fullmatch(rf"@time={TIME} :plain!~plain@localhost PRIVMSG #room :hello there", got)
    await tagged.send("@+typing=done;label=x PRIVMSG #room :hi")
    [got] = timed.take()
    assert re.fullmatch(rf"@time={TIME} :tagged!~tagged@localhost PRIVMSG #room hi", got)
    assert plain.take() == [":tagged!~tagged@localhost PRIVMSG #room hi"]
    await plain.send("PRIVMSG #room :x")
    [got] = tagged.take()
    assert re.fullmatch(rf"@time={TIME};msgid=\w+ :plain!~plain@localhost PRIVMSG #room x", got)


async def test_client_tags_reach_only_those_with_message_tags(door: IrcDoor) -> None:
    sender = await registered(door, "sender", "message-tags")
    tagged = await registered(door, "tagged", "message-tags")
    plain = await registered(door, "plain")
    for client in (sender, tagged, plain):
        await client.send("JOIN #room")
    tagged.take(), plain.take()
    await sender.send("@+typing=active TAGMSG #room", "@+react=ok PRIVMSG #room :yes")
    out = tagged.take()
    assert [re.sub(r"msgid=\w+;?", "", text) for text in out] == [
        "@+typing=active :sender!~sender@localhost TAGMSG #room",
        "@+react=ok :sender!~sender@localhost PRIVMSG #room yes",
    ]
    assert plain.take() == [":sender!~sender@localhost PRIVMSG #room yes"]


async def test_cap_req_after_registration_changes_how_messages_come(door: IrcDoor) -> None:
    alice = await registered(door, "alice")
    bob = await registered(door, "bob")
    await alice.send("JOIN #room")
    await bob.send("JOIN #room")
    await alice.send("CAP REQ server-time")
    await bob.send("PRIVMSG #room hi")
    [got] = alice.take()
    assert re.fullmatch(rf"@time={TIME} :bob!~bob@localhost PRIVMSG #room hi", got)


# --- IrcSession: PING, QUIT, invalid UTF-8 ---


async def test_ping_is_answered_before_and_after_registration(door: IrcDoor) -> None:
    client = Client(door)
    assert await client.send("PING :a b") == [":irc.test PONG irc.test :a b"]
    await client.send("NICK a", "USER a 0 * :a")
    assert await client.send("PING x", "PONG irc.test") == [":irc.test PONG irc.test x"]


async def test_quit_closes_with_error_and_the_room_sees_the_reason(door: IrcDoor) -> None:
    alice = await registered(door, "alice")
    bob = await registered(door, "bob")
    await alice.send("JOIN #room")
    await bob.send("JOIN #room")
    bob.take()
    assert await alice.send("QUIT :gone fishing") == [
        "ERROR :Closing link: localhost (Quit: gone fishing)"
    ]
    assert alice.session.is_closed
    assert bob.take() == [  # and bob, the one left, keeps the room
        ":alice!~alice@localhost QUIT :Quit: gone fishing",
        ":server MODE #room +o bob",
    ]
    assert await alice.send("PING x") == []  # a closed session answers nothing
    assert door.rooms.find("alice") is None  # the nick is free again


async def test_quit_before_registration_closes_too(door: IrcDoor) -> None:
    client = Client(door)
    assert await client.send("QUIT") == ["ERROR :Closing link: localhost (Quit)"]
    assert client.session.is_closed


async def test_invalid_utf8_is_a_fail_and_reaches_no_one(door: IrcDoor) -> None:
    alice = await registered(door, "alice")
    bob = await registered(door, "bob")
    await alice.send("JOIN #room")
    await bob.send("JOIN #room")
    bob.take()
    bad = b"PRIVMSG #room :caf\xe9 \xff".decode("utf-8", "surrogateescape")
    assert await alice.send(bad) == [":irc.test FAIL PRIVMSG INVALID_UTF8 :Invalid UTF-8"]
    assert bob.take() == []
    assert await alice.send("PRIVMSG #room :café") == []
    assert bob.take() == [":alice!~alice@localhost PRIVMSG #room café"]


@pytest.mark.parametrize("caps", [(), ("echo-message",), ("echo-message", "server-time")])
async def test_the_fast_way_for_chat_gives_what_the_long_way_gives(
    door: IrcDoor, caps: tuple[str, ...]
) -> None:
    """After its first line to a room, a member's plain PRIVMSGs skip the general
    parser (IrcSession._chat_fast); what everyone gets must not change."""
    alice = await registered(door, "alice", *caps)
    bob = await registered(door, "bob")
    await alice.send("JOIN #room")
    await bob.send("JOIN #room")
    alice.take()
    bob.take()
    stamp = re.compile(r"^@time=\S+ ")
    seen = []
    for _ in range(2):  # the long way, then the fast way
        mine = [stamp.sub("", x) for x in await alice.send("PRIVMSG #room :two words")]
        seen.append((mine, bob.take()))
    assert seen[0] == seen[1]
    assert seen[0][1] == [":alice!~alice@localhost PRIVMSG #room :two words"]
    assert "PRIVMSG #room" in alice.session.chat_rooms


async def test_the_fast_way_leaves_long_ctcp_and_invalid_lines_to_the_long_way(
    door: IrcDoor,
) -> None:
    alice = await registered(door, "alice")
    bob = await registered(door, "bob")
    await alice.send("JOIN #room")
    await bob.send("JOIN #room")
    await alice.send("PRIVMSG #room :warm")
    bob.take()
    assert numerics(await alice.send("PRIVMSG #room :" + "é" * 300)) == ["417"]
    assert await alice.send("PRIVMSG #room :bad \udcaa byte") == [
        ":irc.test FAIL PRIVMSG INVALID_UTF8 :Invalid UTF-8"
    ]
    await alice.send("PRIVMSG #room :\x01ACTION waves\x01")
    assert bob.take() == [":alice!~alice@localhost PRIVMSG #room :\x01ACTION waves\x01"]
    await alice.send("PART #room")
    assert numerics(await alice.send("PRIVMSG #room :gone")) == ["404"]  # +n: not a member


def _raw(data: bytes) -> str:
    """Bytes as the connection hands them to the session (undecodable ones escaped)."""
    return data.decode("utf-8", "surrogateescape")


def _encodable(lines: list[str]) -> bool:
    """Whether every line can go out as UTF-8, as the connection encodes it."""
    try:
        for text in lines:
            text.encode()
    except UnicodeEncodeError:
        return False
    return True


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xfeX foo",  # the command word itself
        b"PRIVM\xc3SG #room :hi",
        b"@label=\xff PING x",  # a tag that is echoed back
        b"@label=ok PRIVMSG #room :caf\xe9",
        b":\xfe\xff PRIVMSG #room :hi",  # a prefix
    ],
)
async def test_invalid_utf8_anywhere_is_a_fail_that_echoes_no_undecodable_byte(
    door: IrcDoor, data: bytes
) -> None:
    alice = await registered(door, "alice", "labeled-response", "batch")
    await alice.send("JOIN #room")
    out = await alice.send(_raw(data))
    assert _encodable(out), out
    assert any("FAIL" in text and "INVALID_UTF8" in text for text in out), out
    assert not alice.session.is_closed
    assert await alice.send("PING again") == [":irc.test PONG irc.test again"]


async def test_invalid_utf8_before_registration_is_a_fail_too(door: IrcDoor) -> None:
    client = Client(door)
    out = await client.send(_raw(b"\xff\xfeX foo"), _raw(b"NICK \xffbob"))
    assert _encodable(out), out
    assert out == [
        ":irc.test FAIL * INVALID_UTF8 :Invalid UTF-8",  # no command word to name
        ":irc.test FAIL NICK INVALID_UTF8 :Invalid UTF-8",
    ]
    assert not client.session.is_closed


async def test_a_reply_never_carries_an_undecodable_byte(door: IrcDoor) -> None:
    """Whatever path echoes client text, what goes out encodes: the rest is replaced."""
    alice = await registered(door, "alice")
    alice.session.numeric("999", "bad \udcff byte")
    assert alice.take() == [":irc.test 999 alice :bad \ufffd byte"]


def test_a_replayed_line_says_when_it_was_said_with_the_date_when_not_today() -> None:
    noon = time.mktime((2026, 11, 25, 12, 34, 0, 0, 0, -1))
    today = time.localtime(noon)[:3]
    said = r.Said("bob", "hi", noon, "room", "bob!~bob@h", "1")
    acted = r.Acted("bob", "waves", noon - 86400, "room", "bob!~bob@h", "2")
    assert stamped(said, today).text == "[12:34] hi"
    assert stamped(acted, today).text == "[2026-11-24 12:34] waves"
    assert said.text == "hi"  # the kept line is not changed
