"""A private server: --password on both doors (the text prompt, IRC PASS)."""

from __future__ import annotations

import logging

import pytest

from config.settings import Config
from net.listeners import ChatServer
from tests.rigs.chat import ChatClient
from tests.rigs.irc import IrcClient

SECRET = "open sesame"
PRIVATE = Config(port=0, irc_port=0, rate_lines_per_s=0, password=SECRET, irc_server_name="t.x")


@pytest.fixture
def config() -> Config:
    return PRIVATE


async def test_the_text_door_asks_for_the_password_before_the_name(server: ChatServer) -> None:
    alice = await ChatClient.open(server.port)
    assert await alice.line() == "* Welcome to chatroom."
    assert await alice.line() == "Enter the server password:"
    await alice.send("guess")
    assert await alice.line() == "! Wrong password."
    assert await alice.line() == "Enter the server password:"
    await alice.send("/quit")  # no commands before the password: it is a wrong one
    assert await alice.line() == "! Wrong password."
    await alice.expect("Enter the server password:")
    await alice.send(SECRET)
    assert await alice.line() == "Enter your username:"
    await alice.send("alice")
    assert await alice.line() == "* Hello, alice!"
    await alice.close()


async def test_irc_pass_is_checked_at_registration(server: ChatServer) -> None:
    good = await IrcClient.open(server.irc_port)
    await good.send(f"PASS :{SECRET}")
    await good.register("good")
    missing = await IrcClient.open(server.irc_port)
    await missing.send("NICK nopass", "USER n 0 * :n")
    lines = await missing.expect_closed()
    assert lines[0] == ":t.x 464 nopass :Password incorrect" and lines[-1].startswith("ERROR ")
    wrong = await IrcClient.open(server.irc_port)
    await wrong.send("PASS wrong", "NICK bad", "USER n 0 * :n")
    assert (await wrong.expect_closed())[0] == ":t.x 464 bad :Password incorrect"
    await good.close()


async def test_wrong_passwords_are_limited_per_address(server: ChatServer) -> None:
    # Loopback is one address: five wrong tries, then even the right one must wait.
    for _ in range(5):
        client = await ChatClient.open(server.port)
        await client.expect("Enter the server password:")
        await client.send("nope")
        assert await client.line() == "! Wrong password."
        await client.close()
    late = await ChatClient.open(server.port)
    await late.expect("Enter the server password:")
    await late.send(SECRET)
    assert await late.expect_closed() == ["! Too many wrong passwords; try again later."]


async def test_the_password_never_reaches_the_log_even_at_debug(
    server: ChatServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    chatroom = logging.getLogger("chatroom")
    chatroom.setLevel(logging.DEBUG)
    try:
        text = await ChatClient.open(server.port)
        await text.expect("Enter the server password:")
        await text.send(SECRET)
        await text.expect("Enter your username:")
        irc = await IrcClient.open(server.irc_port)
        await irc.send(f"PASS :{SECRET}")
        await irc.register("ircuser")
    finally:
        chatroom.setLevel(logging.NOTSET)
    assert SECRET not in caplog.text
    assert "<secret>" in caplog.text and "PASS <password>" in caplog.text
