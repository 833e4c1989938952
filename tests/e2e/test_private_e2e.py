"""Private messages end to end (docs/protocol.md, "Private messages"; docs/irc.md,
"History"): the real server on port 0, text and IRC clients over sockets. Between two
accounts a conversation is kept and read back on both doors (/history NAME,
CHATHISTORY); a guest's is never stored; DM-HISTORY off keeps nothing; a message to
an offline account waits and is handed to its next login on either door, once."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from config.settings import Config
from doors.irc.message import parse
from net.listeners import ChatServer
from tests.conftest import Connect
from tests.rigs.chat import ChatClient
from tests.rigs.irc import IrcClient

PASSWORD = "correct-horse-battery"
STAMP = r"\[\d\d:\d\d\]"
HISTORY_CAPS = ("batch", "echo-message", "message-tags", "server-time", "draft/chathistory")
IrcConnect = Callable[..., Awaitable[IrcClient]]
pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(
        port=0, irc_port=0, rate_lines_per_s=0, irc_server_name="irc.test",
        db_path=str(tmp_path / "chat.db"), max_held_messages=3,
    )  # fmt: skip


@pytest.fixture
async def accounts(server: ChatServer) -> None:
    """alice, bob, dave and erin are registered (none of them connected)."""
    for i, name in enumerate(("alice", "bob", "dave", "erin")):
        await server.rooms.accounts.register(name, PASSWORD, f"192.0.2.{i + 1}")


@pytest.fixture
async def irc(server: ChatServer) -> AsyncIterator[IrcConnect]:
    clients: list[IrcClient] = []

    async def open_client(nick: str, caps: tuple[str, ...] = HISTORY_CAPS, *, account: bool = True
                          ) -> IrcClient:  # fmt: skip
        """An IRC client as `nick`, logged in to its account with PASS unless not `account`."""
        client = await IrcClient.open(server.irc_port)
        clients.append(client)
        if account:
            await client.send(f"PASS {nick}:{PASSWORD}")
        await client.register(nick, caps)
        return client

    yield open_client
    for client in clients:
        await client.close()


def rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


async def logged_in(connect: Connect, name: str) -> ChatClient:
    """A text client logged in to the account `name`, at the menu; the lines after its
    login (what waited for it, if anything) are left for the test to read."""
    client = await connect()
    await client.expect("Enter your username:")
    await client.send(name)
    await client.expect(f"Enter the password for {name}:")
    await client.send(PASSWORD)
    await client.expect(f"* You are logged in as {name}.")
    await client.expect(rx(r"\* Reclaim code: .*"))
    return client


async def at_menu(client: ChatClient) -> list[str]:
    """The lines up to the menu's prompt."""
    return await client.expect("Enter your choice:")


async def batch(client: IrcClient, kind: str = "chathistory") -> tuple[list[str], list[str]]:
    """The next batch of this kind: its opening line's parameters, and the last
    parameter of each line inside."""
    opening = (await client.expect(rx(rf":irc\.test BATCH \+\S+ {kind}\b.*")))[-1]
    msg = parse(opening)
    assert msg is not None
    lines = await client.expect(f":irc.test BATCH -{msg.params[0][1:]}")
    inside = [parse(x) for x in lines[:-1]]
    assert all(m is not None and m.tags.get("batch") == msg.params[0][1:] for m in inside)
    return msg.params[2:], [" ".join(m.params[1:]) for m in inside if m is not None]


async def framed(client: ChatClient, end: str = "* End of history.") -> list[str]:
    """A framed answer: its heading, its lines, its end (what came before is skipped)."""
    lines = await client.expect(end)
    start = max(i for i, x in enumerate(lines) if x.startswith("* ") and x.endswith(")"))
    return lines[start:]


def stored(path: str) -> list[tuple[str, str, int]]:
    with contextlib.closing(sqlite3.connect(path)) as con:
        found: list[tuple[str, str, int]] = con.execute(
            "SELECT name, text, kept FROM private_messages ORDER BY id"
        ).fetchall()
    return found


@pytest.mark.usefixtures("accounts")
async def test_a_conversation_across_the_doors_is_kept_and_read_back_on_both(
    connect: Connect, irc: IrcConnect, config: Config
) -> None:
    alice = await logged_in(connect, "alice")
    await at_menu(alice)
    bob = await irc("bob")
    await alice.send("/msg bob hello bob")
    await alice.expect(rx(rf"{STAMP} -> \*bob\* hello bob"))
    await bob.expect(rx(r"@\S+ :alice!\S+ PRIVMSG bob :hello bob"))
    await bob.send("PRIVMSG alice :hi alice", "PRIVMSG alice :\x01ACTION waves\x01",
                   "NOTICE alice :a notice is not kept")  # fmt: skip
    await alice.expect(rx(rf"{STAMP} \*bob\* hi alice"))
    await alice.expect(rx(rf"{STAMP} \*bob\* \* bob waves"))
    await alice.expect(rx(rf"{STAMP} \*bob\* -a notice is not kept-"))

    await alice.send("/history bob")
    lines = await framed(alice)
    assert lines[0] == "* History of private messages with bob (3 messages)"
    assert [re.sub(STAMP + " ", "", x) for x in lines[1:-1]] == [
        "-> *bob* hello bob", "*bob* hi alice", "*bob* * bob waves",
    ]  # fmt: skip
    await alice.send("/history bob 1")
    assert (await framed(alice))[1:] == [lines[-2], "* End of history."]

    await bob.send("CHATHISTORY LATEST ALICE * 10")
    params, texts = await batch(bob)
    assert params == ["ALICE"]  # named as the client named it
    assert texts == ["hello bob", "hi alice", "\x01ACTION waves\x01"]
    await bob.send("CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z "
                   "timestamp=2200-01-01T00:00:00.000Z 10")  # fmt: skip
    _, targets = await batch(bob, "draft/chathistory-targets")
    assert [t.split()[0] for t in targets] == ["alice"]
    assert [(name, text) for name, text, _ in stored(config.db_path)] == [
        ("alice", "hello bob"), ("bob", "hi alice"), ("bob", "waves"),
    ]  # fmt: skip


@pytest.mark.usefixtures("accounts")
async def test_a_guests_private_messages_are_never_stored(
    connect: Connect, irc: IrcConnect, config: Config
) -> None:
    alice = await logged_in(connect, "alice")
    await at_menu(alice)
    carol = await connect("carol")  # a guest
    await carol.send("/msg alice from a guest")
    await alice.expect(rx(rf"{STAMP} \*carol\* from a guest"))
    await alice.send("/msg carol to a guest")
    await carol.expect(rx(rf"{STAMP} \*alice\* to a guest"))
    await carol.send("/history alice")
    await carol.expect(
        "! Private messages are kept for accounts only: log in (or /register) to keep them."
    )
    # alice's session holds them (its client may scroll back), and nothing else does
    await alice.send("/history carol")
    lines = await framed(alice)
    assert [re.sub(STAMP + " ", "", x) for x in lines[1:-1]] == [
        "*carol* from a guest", "-> *carol* to a guest",
    ]  # fmt: skip
    bob = await irc("bob")
    await alice.send("/msg bob between accounts")
    await bob.expect(rx(r".* PRIVMSG bob :between accounts"))
    await alice.send("/history bob")  # a read waits for what was queued before it
    await alice.expect("* End of history.")
    assert stored(config.db_path) == [("alice", "between accounts", 1)]
    await alice.send("/quit")
    await alice.expect_closed()
    again = await logged_in(connect, "alice")
    await at_menu(again)
    await again.send("/history carol")
    await again.expect("* No private messages with carol.")


@pytest.mark.usefixtures("accounts")
async def test_dm_history_off_keeps_nothing(
    connect: Connect, irc: IrcConnect, config: Config
) -> None:
    alice = await logged_in(connect, "alice")
    await at_menu(alice)
    await alice.send("/msg NickServ SET DM-HISTORY off", "/msg NickServ SET DM-HISTORY")
    await alice.expect(rx(rf"{STAMP} \*NickServ\* DM-HISTORY is off: private messages of "
                          r"alice are no longer kept \(those kept already stay until they "
                          r"expire\)\."))  # fmt: skip
    await alice.expect(rx(rf"{STAMP} \*NickServ\* DM-HISTORY is off for alice\."))
    bob = await irc("bob")
    await alice.send("/msg bob unkept")
    await bob.expect(rx(r".* PRIVMSG bob :?unkept"))
    await bob.send("PRIVMSG alice :unkept too")
    await alice.expect(rx(rf"{STAMP} \*bob\* unkept too"))
    await alice.send("/history bob")
    await alice.expect("* No private messages with bob.")
    await bob.send("CHATHISTORY LATEST alice * 10")
    assert (await batch(bob))[1] == []
    assert stored(config.db_path) == []
    await alice.send("/msg NickServ SET DM-HISTORY on", "/msg NickServ SET DM-HISTORY maybe")
    await alice.expect(rx(rf"{STAMP} \*NickServ\* DM-HISTORY is on: .*"))
    await alice.expect(rx(rf"{STAMP} \*NickServ\* Usage: SET DM-HISTORY \[ON\|OFF\]"))


@pytest.mark.usefixtures("accounts")
async def test_an_offline_accounts_messages_come_at_its_next_login_once_on_the_text_door(
    connect: Connect, irc: IrcConnect
) -> None:
    alice = await logged_in(connect, "alice")
    await at_menu(alice)
    await alice.send("/msg dave see you at six")
    await alice.expect(rx(rf"{STAMP} -> \*dave\* see you at six"))
    await alice.expect("* dave is offline; your message will be delivered when dave logs in.")
    bob = await irc("bob")
    await bob.send("PRIVMSG dave :\x01ACTION waves from IRC\x01")
    await bob.expect(rx(r"@\S+ :bob!\S+ PRIVMSG dave :\x01ACTION waves from IRC\x01"))
    await bob.expect(":irc.test NOTICE bob :dave is offline; your message will be delivered "
                     "when they log in")  # fmt: skip

    dave = await logged_in(connect, "dave")
    lines = await at_menu(dave)
    assert lines[0] == "* Private messages while you were offline (2 messages)"
    assert re.fullmatch(rf"{STAMP} \*alice\* see you at six", lines[1])
    assert re.fullmatch(rf"{STAMP} \*bob\* \* bob waves from IRC", lines[2])
    assert lines[3] == "* End of private messages."
    await dave.send("/quit")
    await dave.expect_closed()
    again = await logged_in(connect, "dave")
    assert (await at_menu(again))[0] == "--- Chat Menu ---"  # nothing twice
    await again.send("/history alice")
    assert (await framed(again))[1].endswith("*alice* see you at six")


@pytest.mark.usefixtures("accounts")
async def test_an_offline_accounts_messages_come_at_its_next_login_once_on_irc(
    connect: Connect, irc: IrcConnect
) -> None:
    alice = await logged_in(connect, "alice")
    await at_menu(alice)
    await alice.send("/msg erin one", "/msg erin two")
    await alice.expect(rx(r"\* erin is offline; .*"))
    await alice.expect(rx(r"\* erin is offline; .*"))
    erin = await irc("erin")  # logged in before the welcome: the batch follows it
    params, texts = await batch(erin)
    assert (params, texts) == (["alice"], ["one", "two"])
    await erin.send("QUIT")
    await erin.expect_closed()
    again = await irc("erin")
    await again.send("PING :nothing-before-this")
    assert await again.line() == ":irc.test PONG irc.test nothing-before-this"
    await again.send("QUIT")
    await again.expect_closed()

    # A client without batch or server-time: plain PRIVMSGs, framed, the time in the text.
    await alice.send("/msg erin three")
    await alice.expect(rx(r"\* erin is offline; .*"))
    plain = await irc("erin", ())
    lines = await plain.expect(":irc.test NOTICE erin :End of private messages.")
    assert lines[-3] == ":irc.test NOTICE erin :Private messages while you were offline (1 message)"
    assert re.fullmatch(r":alice!\S+ PRIVMSG erin :\[\d\d:\d\d\] three", lines[-2])


@pytest.mark.usefixtures("accounts")
async def test_who_may_leave_a_message_for_an_offline_name_and_how_many(
    connect: Connect, irc: IrcConnect
) -> None:
    carol = await connect("carol")
    await carol.send("/msg dave from a guest", "/msg nobody hi")
    await carol.expect("! dave is offline; log in to an account to leave a message.")
    await carol.expect('! No user named "nobody".')
    alice = await logged_in(connect, "alice")
    await at_menu(alice)
    await alice.send(*(f"/msg dave {i}" for i in range(4)))
    for _ in range(3):
        await alice.expect(rx(r"\* dave is offline; .*"))
    await alice.expect("! dave is offline with 3 messages waiting already; try again later.")
    bob = await irc("bob")
    await bob.send("PRIVMSG dave :one more", "NOTICE dave :a notice waits for nobody",
                   "PRIVMSG nobody :hi")  # fmt: skip
    await bob.expect(":irc.test FAIL PRIVMSG TOO_MANY_WAITING dave :dave is offline with 3 "
                     "messages waiting already; try again later")  # fmt: skip
    await bob.expect(":irc.test 401 bob nobody :No such nick/channel")
    dave = await logged_in(connect, "dave")
    assert (await at_menu(dave))[0] == "* Private messages while you were offline (3 messages)"
