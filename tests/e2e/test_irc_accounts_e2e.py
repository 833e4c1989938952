"""Accounts on the IRC door end to end: the real server on port 0, IRC and text clients
over sockets. An account registered with REGISTER logs in with SASL from another
connection and owns its nick on both doors; no password or SASL payload in any log line,
even at DEBUG."""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from config.settings import Config
from net.listeners import ChatServer
from tests.conftest import Connect
from tests.rigs.irc import IrcClient, ScramClient

PASSWORD = "tr0ub4dor-and-3"
PLAIN = base64.b64encode(f"\0alice\0{PASSWORD}".encode()).decode()
WRONG = base64.b64encode(b"\0alice\0not-it").decode()


@pytest.fixture
def config() -> Config:
    return Config(port=0, irc_port=0, rate_lines_per_s=0, irc_server_name="irc.test")


@pytest.fixture
async def irc(server: ChatServer) -> AsyncIterator[Callable[[], Awaitable[IrcClient]]]:
    clients: list[IrcClient] = []

    async def open_client() -> IrcClient:
        client = await IrcClient.open(server.irc_port)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        await client.close()


async def test_register_then_sasl_from_another_connection_and_the_nick_is_owned(
    irc: Callable[[], Awaitable[IrcClient]], connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    first = await irc()
    await first.register("alice")
    await first.send(f"REGISTER * * {PASSWORD}")
    await first.expect(":irc.test REGISTER SUCCESS alice :Account created")
    await first.send("QUIT")
    await first.expect_closed()

    # Someone else, on either door, may not take the name.
    stranger = await irc()
    await stranger.send("NICK alice", "USER x 0 * :x")
    await stranger.expect(":irc.test 433 * alice :Nickname is reserved by a different account")
    text = await connect()
    await text.expect("Enter your username:")
    await text.send("alice")  # the text door asks for the account's password
    await text.expect("Enter the password for alice:")
    await text.send("not-it")
    await text.expect("! Wrong password for alice.")
    await text.expect("Enter your username:")

    # A wrong password is 904; the right one logs in, and the nick is the account's.
    owner = await irc()
    await owner.send("CAP LS 302", "CAP REQ :sasl extended-join", "NICK alice", "USER a 0 * :A")
    await owner.send("AUTHENTICATE PLAIN")
    await owner.expect(":irc.test AUTHENTICATE +")
    await owner.send(f"AUTHENTICATE {WRONG}")
    await owner.expect(":irc.test 904 alice :SASL authentication failed")
    await owner.send("AUTHENTICATE PLAIN", f"AUTHENTICATE {PLAIN}")
    await owner.expect(re.compile(r":irc.test 900 alice alice!~a@127.0.0.1 alice :.*"))
    await owner.expect(":irc.test 903 alice :SASL authentication successful")
    await owner.send("CAP END")
    await owner.expect(":irc.test 001 alice :Welcome to the chatroom IRC network, alice")
    await owner.send("JOIN #general")
    await owner.expect(":alice!~a@127.0.0.1 JOIN #general alice A")

    logged = [record.getMessage() for record in caplog.records]
    assert any("REGISTER <redacted>" in line for line in logged)
    assert any("AUTHENTICATE <payload>" in line for line in logged)
    assert all(PASSWORD not in line and PLAIN not in line for line in logged)


async def test_a_scram_login_shows_its_mechanism_in_the_log_and_none_of_its_messages(
    irc: Callable[[], Awaitable[IrcClient]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    first = await irc()
    await first.register("alice")
    await first.send(f"REGISTER * * {PASSWORD}", "QUIT")
    await first.expect_closed()

    owner = await irc()
    await owner.send("CAP LS 302", "CAP REQ :sasl", "NICK alice", "USER a 0 * :A")
    await owner.send("AUTHENTICATE SCRAM-SHA-256")
    await owner.expect(":irc.test AUTHENTICATE +")
    scram = ScramClient("alice", PASSWORD)
    await owner.send(f"AUTHENTICATE {scram.first()}")
    challenge = re.compile(r":irc\.test AUTHENTICATE (\S+)")
    server_first = (await owner.expect(challenge))[-1].split()[-1]
    await owner.send(f"AUTHENTICATE {scram.final(server_first)}")
    await owner.expect(f":irc.test AUTHENTICATE {scram.server_final()}")
    await owner.send("AUTHENTICATE +")
    await owner.expect(":irc.test 903 alice :SASL authentication successful")

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "AUTHENTICATE SCRAM-SHA-256" in logged
    messages = [scram.first(), server_first, scram.final(server_first), scram.server_final()]
    assert [m for m in messages if m in logged] == []


async def test_nickserv_is_reached_from_irc_and_its_passwords_never_logged(
    irc: Callable[[], Awaitable[IrcClient]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    first = await irc()
    await first.register("carol")
    await first.send(f"NS REGISTER {PASSWORD}")
    await first.expect(
        re.compile(r":irc\.test 900 carol carol!\S+ carol :You are now logged in as carol")
    )
    await first.expect(re.compile(r":NickServ!NickServ@services NOTICE carol :.*carol.*"))
    await first.send("QUIT")
    await first.expect_closed()

    second = await irc()
    await second.register("guest1")
    await second.send(f"PRIVMSG NickServ :IDENTIFY carol {PASSWORD}")
    await second.expect(
        re.compile(r":irc\.test 900 guest1 guest1!\S+ carol :You are now logged in as carol")
    )
    await second.send("PRIVMSG NickServ :IDENTIFY carol wrong-one")
    await second.expect(re.compile(r":NickServ!NickServ@services NOTICE guest1 :.*"))
    await second.send("NOTICE NickServ :HELP")  # nothing ever answers a NOTICE
    await second.send("CS HELP")
    await second.expect(re.compile(r":ChanServ!ChanServ@services NOTICE guest1 :.*"))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert PASSWORD not in logged and "wrong-one" not in logged
    assert "IDENTIFY <password>" in logged
