"""Real IRC clients (irssi, WeeChat) in tmux, chatting with a text-door user.

Each test starts `server.py` with both doors on port 0 (tests/rigs/serverprocess.py),
logs `textuser` into room `general` on the text door over a socket, starts the IRC
client in a tmux server of its own (tests/rigs/tmuxrig.py) and joins `#general`, then
checks one thing both ways. Every wait polls with a deadline; a failure shows the
client's screen and the server's DEBUG log, which has every line each client sent (`<`)
and was sent (`>`). What a client asks on its own (WHO on joining) is checked in that log.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.rigs.chat import ChatClient
from tests.rigs.serverprocess import ServerProcess, hears, stamped
from tests.rigs.tmuxrig import IrcClient, Irssi, Pane, WeeChat

TEXT = "textuser"

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


@pytest.fixture
async def server() -> AsyncIterator[ServerProcess]:
    async with ServerProcess.running() as proc:
        yield proc


@pytest.fixture
async def text(server: ServerProcess) -> AsyncIterator[ChatClient]:
    """`textuser` on the text door, in room `general`, which it created."""
    client = await ChatClient.open(server.ports["text"])
    try:
        await client.login(TEXT)
        await client.create("general")
        yield client
    finally:
        await client.close()


@pytest.fixture(params=[Irssi, WeeChat], ids=["irssi", "weechat"])
async def irc(
    request: pytest.FixtureRequest, server: ServerProcess, text: ChatClient, tmp_path: Path
) -> AsyncIterator[IrcClient]:
    """A real IRC client in #general with `textuser`; each side has seen the other join."""
    kind: type[IrcClient] = request.param
    if shutil.which(kind.program) is None:
        pytest.skip(f"{kind.program} is not installed")
    pane = Pane(kind.program, context=server.tail)
    client = kind(pane, f"{kind.program}user", tmp_path)
    try:
        await client.start(server.ports["IRC"])
        await pane.type("/join #general")  # in the status window: #general is not yet
        await client.expect(client.joined(client.nick))
        await hears(server, text, f"* {client.nick} has joined general")
        yield client
    finally:
        await pane.close()


async def test_chat_goes_both_ways(server: ServerProcess, text: ChatClient, irc: IrcClient) -> None:
    await irc.say("hello from IRC")
    await hears(server, text, stamped(f"<{irc.nick}> hello from IRC"))
    await text.send("hello from the text door")
    await irc.expect(irc.said(TEXT, "hello from the text door"))


async def test_actions_go_both_ways(
    server: ServerProcess, text: ChatClient, irc: IrcClient
) -> None:
    await irc.say("/me waves")
    await hears(server, text, stamped(f"* {irc.nick} waves"))
    await text.send("/me bows")
    await irc.expect(irc.acted(TEXT, "bows"))


async def test_private_messages_go_both_ways(
    server: ServerProcess, text: ChatClient, irc: IrcClient
) -> None:
    await irc.say(f"/msg {TEXT} psst, IRC here")
    await hears(server, text, stamped(f"*{irc.nick}* psst, IRC here"))
    await text.send(f"/msg {irc.nick} psst, text here")
    await irc.expect(irc.whispered(TEXT, "psst, text here"), TEXT)


async def test_names_on_irc_and_who_on_the_text_door_list_each_other(
    server: ServerProcess, text: ChatClient, irc: IrcClient
) -> None:
    await irc.clear()  # of the names shown on joining
    await irc.say("/names")
    await irc.expect(irc.names(TEXT))
    await text.send("/who")
    names = ", ".join(sorted([irc.nick, "@" + TEXT], key=lambda n: n.lstrip("@")))
    await hears(server, text, f"* Users in general: {names}")  # @: it made the room


async def test_a_topic_set_on_either_side_is_seen_on_the_other(
    server: ServerProcess, text: ChatClient, irc: IrcClient
) -> None:
    await text.send("/topic Release on Friday")
    await irc.expect(irc.topic_set(TEXT, "Release on Friday"))
    await irc.say("/topic Pizza at noon")
    await hears(server, text, f"* {irc.nick} set the topic of general to: Pizza at noon")


async def test_whois_from_irc_shows_the_text_user(irc: IrcClient) -> None:
    await irc.say(f"/whois {TEXT}")
    await irc.expect(irc.whois(TEXT), irc.status, failure=r"WHOIS:? Unknown command")


async def test_an_irc_part_is_seen_on_the_text_door(
    server: ServerProcess, text: ChatClient, irc: IrcClient
) -> None:
    await irc.say("/part #general see you")
    await hears(server, text, f"* {irc.nick} has left general (see you)")


async def test_a_text_door_leave_is_seen_on_irc(text: ChatClient, irc: IrcClient) -> None:
    await text.send("/leave")
    await irc.expect(irc.left(TEXT))


async def test_an_irc_quit_is_seen_on_the_text_door(
    server: ServerProcess, text: ChatClient, irc: IrcClient
) -> None:
    await irc.say("/quit bye")
    await hears(server, text, f"* {irc.nick} has quit (Quit: bye)")


async def test_a_text_door_quit_is_seen_on_irc(text: ChatClient, irc: IrcClient) -> None:
    await text.send("/quit")
    await irc.expect(irc.quit(TEXT))


async def test_the_who_a_client_sends_on_joining_is_answered(
    server: ServerProcess, irc: IrcClient
) -> None:
    nick = re.escape(irc.nick)
    peer = re.escape((await server.logged(rf"(\S+) is {nick} \(IRC\)"))[1])
    await server.logged(rf" {peer} < b'WHO #general")  # the client syncs the channel
    reply = await server.logged(rf" {peer} > :irc\.test (315|421) {nick} ")
    sent = [ln for ln in server.log if re.search(rf" {peer} < ", ln)]
    assert reply[1] == "315", "\n".join([reply.string, "--- the client sent ---", *sent])
