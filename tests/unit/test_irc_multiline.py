"""IRCv3 draft/multiline on the IRC door, socket-free (docs/irc.md, "Multiline messages"):
a client's batch gathered into one message, refused whole when it breaks a rule, and
worded for each recipient: one batch, line by line, or the text door's chat lines."""

from __future__ import annotations

import re

import pytest

import registry as r
from config.settings import Config
from doors.irc.session import IrcDoor, IrcSession
from doors.text.render import TextRender, framed
from rooms import RoomManager

TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
BASE = ("batch", "echo-message", "labeled-response", "message-tags", "server-time")
MULTI = (*BASE, "draft/multiline")
CONCAT = "draft/multiline-concat"


class Pacing:
    """A connection's flood control as the session sees it: what it was asked."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def defer_pacing(self, lines: int) -> None:
        self.calls.append(f"defer {lines}")

    def charge_deferred(self) -> None:
        self.calls.append("charge")


class Client:
    """An IrcSession with its output captured, and its flood control's calls."""

    def __init__(self, door: IrcDoor) -> None:
        self.out: list[str] = []
        self.pacing = Pacing()
        self.session = IrcSession(door, self.out.append, pacing=self.pacing)

    async def send(self, *lines: str) -> list[str]:
        """Feed lines; return what came out for them (and drop it)."""
        self.out.clear()
        for text in lines:
            pending = self.session.feed_nowait(text)
            if pending is not None:
                await pending
        return self.take()

    def take(self) -> list[str]:
        lines, self.out[:] = list(self.out), []
        return lines


@pytest.fixture
def rooms() -> RoomManager:
    return RoomManager(defer=lambda flush: flush())


def door_of(rooms: RoomManager, **limits: int) -> IrcDoor:
    return IrcDoor(rooms, Config(irc_server_name="irc.test", **limits))  # type: ignore[arg-type]


@pytest.fixture
def door(rooms: RoomManager) -> IrcDoor:
    return door_of(rooms)


async def registered(door: IrcDoor, nick: str, caps: tuple[str, ...], *chans: str) -> Client:
    client = Client(door)
    await client.send("CAP LS 302", f"CAP REQ :{' '.join(caps)}")
    await client.send(f"NICK {nick}", f"USER {nick} 0 * :{nick}", "CAP END")
    for chan in chans:
        await client.send(f"JOIN {chan}")
    client.take()
    return client


def batch(ref: str, target: str, *texts: str, command: str = "PRIVMSG") -> list[str]:
    """A client's multiline batch; a text starting with `+` is a concat piece."""
    lines = [f"BATCH +{ref} draft/multiline {target}"]
    for text in texts:
        concat = f";{CONCAT}" if text.startswith("+") else ""
        lines.append(f"@batch={ref}{concat} {command} {target} :{text.removeprefix('+')}")
    return [*lines, f"BATCH -{ref}"]


def tags_of(text: str) -> dict[str, str]:
    if not text.startswith("@"):
        return {}
    return dict(t.partition("=")[::2] for t in text[1:].split(" ", 1)[0].split(";"))


# --- Delivery ---


async def test_a_multiline_message_is_one_batch_to_who_has_it_and_lines_to_who_does_not(
    door: IrcDoor,
) -> None:
    alice = await registered(door, "alice", MULTI, "#test")
    bob = await registered(door, "bob", MULTI, "#test")
    carol = await registered(door, "carol", BASE, "#test")
    dave = await registered(door, "dave", (), "#test")
    alice.take(), bob.take(), carol.take()
    await alice.send(*batch("1", "#test", "hello", "", "how is ", "+everyone?"))
    got = bob.take()
    opening, ref = got[0], tags_of(got[0])["msgid"]
    assert re.fullmatch(rf"@time={TIME};msgid={ref} :alice!~alice@localhost BATCH \+{ref} "
                        r"draft/multiline #test", opening)  # fmt: skip
    assert got[1:] == [
        f"@batch={ref} :alice!~alice@localhost PRIVMSG #test hello",
        f"@batch={ref} :alice!~alice@localhost PRIVMSG #test :",
        f"@batch={ref} :alice!~alice@localhost PRIVMSG #test :how is ",
        f"@batch={ref};{CONCAT} :alice!~alice@localhost PRIVMSG #test everyone?",
        f"BATCH -{ref}",
    ]
    time = tags_of(opening)["time"]
    assert carol.take() == [  # no blank line; the msgid on the first line only
        f"@time={time};msgid={ref} :alice!~alice@localhost PRIVMSG #test hello",
        f"@time={time} :alice!~alice@localhost PRIVMSG #test :how is ",
        f"@time={time} :alice!~alice@localhost PRIVMSG #test everyone?",
    ]
    assert dave.take() == [
        ":alice!~alice@localhost PRIVMSG #test hello",
        ":alice!~alice@localhost PRIVMSG #test :how is ",
        ":alice!~alice@localhost PRIVMSG #test everyone?",
    ]


async def test_the_echo_is_the_batch_and_a_label_goes_on_its_opening_line_only(
    door: IrcDoor,
) -> None:
    alice = await registered(door, "alice", MULTI, "#test")
    lines = batch("b1", "#test", "one", "two")
    assert await alice.send("@label=xyz " + lines[0]) == []  # no ACK: the end answers
    echo = await alice.send(*lines[1:])
    assert tags_of(echo[0])["label"] == "xyz"
    assert " BATCH +" in echo[0] and echo[-1].startswith("BATCH -")
    assert not any("label" in tags_of(text) for text in echo[1:])
    assert [text.rsplit(" ", 1)[-1] for text in echo[1:-1]] == ["one", "two"]


async def test_without_echo_message_a_labeled_batch_is_acknowledged(door: IrcDoor) -> None:
    alice = await registered(door, "alice", ("batch", "labeled-response", "draft/multiline"))
    await alice.send("JOIN #test")
    lines = batch("b1", "#test", "one", "two")
    assert await alice.send("@label=q " + lines[0], *lines[1:]) == ["@label=q :irc.test ACK"]


async def test_a_private_multiline_message_reaches_the_user_and_echoes(door: IrcDoor) -> None:
    alice = await registered(door, "alice", MULTI)
    bob = await registered(door, "bob", ())
    echo = await alice.send(*batch("p", "bob", "first", "second"))
    assert echo[0].endswith(" draft/multiline bob") and len(echo) == 4
    assert bob.take() == [
        ":alice!~alice@localhost PRIVMSG bob first",
        ":alice!~alice@localhost PRIVMSG bob second",
    ]
    assert await alice.send(*batch("q", "nobody", "hi")) == [
        ":irc.test 401 alice nobody :No such nick/channel"
    ]


async def test_a_notice_batch_is_delivered_as_notices(door: IrcDoor) -> None:
    alice = await registered(door, "alice", MULTI, "#test")
    bob = await registered(door, "bob", (), "#test")
    await alice.send(*batch("n", "#test", "a", "b", command="NOTICE"))
    assert bob.take() == [
        ":alice!~alice@localhost NOTICE #test a",
        ":alice!~alice@localhost NOTICE #test b",
    ]


async def test_the_client_tags_of_the_opening_batch_go_with_the_message(door: IrcDoor) -> None:
    alice = await registered(door, "alice", MULTI, "#test")
    bob = await registered(door, "bob", ("message-tags",), "#test")
    lines = batch("t", "#test", "x", "y")
    await alice.send("@+draft/reply=7 " + lines[0], *lines[1:])
    assert [tags_of(text).get("+draft/reply") for text in bob.take()] == ["7", "7"]


async def test_a_member_who_may_not_speak_gets_404_at_the_end(door: IrcDoor) -> None:
    await registered(door, "op", (), "#quiet")
    alice = await registered(door, "alice", MULTI)
    assert await alice.send(*batch("m", "#quiet", "hi")) == [
        ":irc.test 404 alice #quiet :Cannot send to channel (no external messages)"
    ]


# --- Refusals ---


@pytest.mark.parametrize(
    ("lines", "reply"),
    [
        (batch("x", "#test", "hi", "+"), "MULTILINE_INVALID :A blank line cannot continue"),
        (batch("x", "#test", "", ""), "MULTILINE_INVALID :A multiline message needs a line"),
        (["BATCH +x draft/multiline #test", "@batch=y PRIVMSG #test :hi"],
         "MULTILINE_INVALID :Incorrect batch tag sent"),
        (["BATCH +x draft/multiline #test", "@batch=x PRIVMSG #other :hi"],
         "MULTILINE_INVALID_TARGET #test #other :Invalid multiline target"),
        (["BATCH +x draft/multiline #test", "@batch=x PRIVMSG #test :a",
          "@batch=x NOTICE #test :b"], "MULTILINE_INVALID :A multiline batch holds PRIVMSG"),
        (["BATCH +x draft/multiline #test", "PRIVMSG #test :outside"],
         "MULTILINE_INVALID :Only the batch's lines may come while it is open"),
        (["BATCH +x draft/multiline #a,#b"], "MULTILINE_INVALID :A multiline message goes"),
        (["BATCH +x draft/multiline NickServ"], "MULTILINE_INVALID :A multiline message goes"),
        (["BATCH -x"], "MULTILINE_INVALID :No such batch is open"),
        (["BATCH +x netsplit a b"], "INVALID_PARAMS netsplit :Unknown batch type"),
        (["BATCH +x draft/multiline #test", "BATCH +y draft/multiline #test"],
         "MULTILINE_INVALID :A multiline batch is open already"),
    ],
)  # fmt: skip
async def test_a_malformed_batch_is_refused_whole_with_fail_batch(
    door: IrcDoor, lines: list[str], reply: str
) -> None:
    alice = await registered(door, "alice", MULTI, "#test")
    bob = await registered(door, "bob", (), "#test")
    out = await alice.send(*lines)
    assert out[0].startswith(f":irc.test FAIL BATCH {reply}")
    assert not [text for text in bob.take() if "PRIVMSG" in text and "outside" not in text]


async def test_the_limits_are_the_servers_and_hit_as_soon_as_passed(rooms: RoomManager) -> None:
    door = door_of(rooms, max_multiline_bytes=10, max_multiline_lines=3)
    assert "draft/multiline=max-bytes=10,max-lines=3" in (await Client(door).send("CAP LS 302"))[0]
    alice = await registered(door, "alice", MULTI, "#test")
    # 4 + "\n" + 5 = 10 bytes: within; a piece (concat) adds no newline.
    assert len(await alice.send(*batch("a", "#test", "abcd", "efgh", "+i"))) == 5
    out = await alice.send(*batch("b", "#test", "abcd", "efghij", "more", "lines"))
    assert out == [":irc.test FAIL BATCH MULTILINE_MAX_BYTES 10 :Multiline batch max-bytes "
                   "(10) exceeded"]  # fmt: skip
    out = await alice.send(*batch("c", "#test", "a", "b", "c", "d", "e"))
    assert out == [":irc.test FAIL BATCH MULTILINE_MAX_LINES 3 :Multiline batch max-lines "
                   "(3) exceeded"]  # fmt: skip


async def test_the_rest_of_a_refused_batch_is_ignored_then_lines_work_again(
    door: IrcDoor,
) -> None:
    alice = await registered(door, "alice", MULTI, "#test")
    out = await alice.send(*batch("x", "#test", "a", "+", "more", "still more"))
    assert len(out) == 1 and "FAIL BATCH MULTILINE_INVALID" in out[0]  # once, not per line
    assert (await alice.send("PRIVMSG #test :plain"))[0].endswith("PRIVMSG #test plain")
    assert len(await alice.send(*batch("y", "#test", "again"))) == 3


async def test_a_line_refused_for_its_encoding_refuses_the_batch(door: IrcDoor) -> None:
    alice = await registered(door, "alice", MULTI, "#test")
    out = await alice.send("BATCH +x draft/multiline #test", "@batch=x PRIVMSG #test :\udcff")
    assert out[0].endswith("FAIL PRIVMSG INVALID_UTF8 :Invalid UTF-8")
    assert out[1].startswith(":irc.test FAIL BATCH MULTILINE_INVALID")


async def test_a_labeled_batch_that_fails_answers_its_label_with_the_fail(door: IrcDoor) -> None:
    alice = await registered(door, "alice", MULTI, "#test")
    await alice.send("@label=L BATCH +x draft/multiline #test")
    out = await alice.send("@batch=x PRIVMSG #elsewhere :hi")
    assert out == ["@label=L :irc.test FAIL BATCH MULTILINE_INVALID_TARGET #test #elsewhere "
                   ":Invalid multiline target"]  # fmt: skip


# --- Flood control, history, the text door ---


async def test_a_batch_defers_pacing_and_charges_it_when_it_ends(door: IrcDoor) -> None:
    alice = await registered(door, "alice", MULTI, "#test")
    await alice.send(*batch("x", "#test", "a", "b"))
    await alice.send(*batch("y", "#test", "a", "+"))  # refused: charged all the same
    assert alice.pacing.calls == ["defer 101", "charge", "defer 101", "charge"]


async def test_history_keeps_a_multiline_message_as_one(door: IrcDoor, rooms: RoomManager) -> None:
    alice = await registered(door, "alice", MULTI, "#test")
    room = rooms.room("test")
    assert room is not None
    kept: list[r.Event] = []
    room.keep = kept.append  # what the registry hands history
    await alice.send(*batch("x", "#test", "one", "two ", "+three"))
    await alice.send(*batch("y", "#test", "a notice", command="NOTICE"))
    [event] = [e for e in kept if r.is_kept(e)]
    assert isinstance(event, r.Multiline)
    assert (event.text, event.concat, event.kind) == ("one\ntwo \nthree", (2,), "msg")


def test_the_text_door_shows_the_lines_the_sender_wrote_pieces_joined() -> None:
    event = r.Multiline("alice", "one\n\ntwo \nthree\x1b[2J", 0.0, "test", concat=(3,))
    render = TextRender()
    hhmm = render.hhmm(0.0)
    assert render(event).decode().split("\r\n") == [
        f"[{hhmm}] <alice> one", f"[{hhmm}] <alice> ", f"[{hhmm}] <alice> two three", "",
    ]  # fmt: skip
    private = r.Multiline("alice", "psst\nthere", 0.0, target="bob", kind="notice")
    assert render(private).decode().split("\r\n")[:2] == [
        f"[{hhmm}] *alice* -psst-", f"[{hhmm}] *alice* -there-",
    ]  # fmt: skip
    assert framed("test", [event], 0.0)[0] == "* History of test (1 message)"
    assert len(framed("test", [event], 0.0)) == 2 + 3
