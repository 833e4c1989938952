"""Real IRC clients (irssi, WeeChat) in tmux, chatting with a text-door user.

Each test starts `server.py` with both doors on port 0, logs `textuser` into room
`general` on the text door over a socket, starts the IRC client in a tmux server of its
own (tests/tmuxrig.py) and joins `#general`, then checks one thing both ways. Every
wait polls with a deadline; a failure shows the client's screen and the server's DEBUG
log, which has every line each client sent (`<`) and was sent (`>`). What a client
asks on its own (WHO on joining) is checked in that log.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.rigs.chat import ChatClient
from tests.rigs.tmuxrig import WAIT_S, IrcClient, Irssi, Pane, WeeChat

ROOT = Path(__file__).resolve().parents[2]
TEXT = "textuser"

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


class ServerProcess:
    """`server.py` with both doors on free ports; its log is read as it comes."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.log: list[str] = []
        self.ports: dict[str, int] = {}  # "text" and "IRC"
        self._reader: asyncio.Task[None] | None = None
        self._more = asyncio.Condition()  # notified on every line logged

    @classmethod
    async def start(cls) -> ServerProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "server.py"), "--port", "0", "--irc-port", "0",
            "--irc-server-name", "irc.test", "--log-level", "DEBUG", "--no-history",
            stderr=asyncio.subprocess.PIPE, cwd=ROOT,
        )  # fmt: skip
        server = cls(proc)
        try:
            async with asyncio.timeout(WAIT_S):
                while len(server.ports) < 2:
                    line = await server._read_line()
                    assert line, f"the server exited early\n{server.tail()}"
                    if m := re.search(r"(text|IRC) door listening on \S+:(\d+)", line):
                        server.ports[m[1]] = int(m[2])
        except BaseException:
            await server.stop()
            raise
        server._reader = asyncio.create_task(server._read_all())  # a full pipe blocks it
        return server

    async def _read_line(self) -> str:
        assert self.proc.stderr is not None
        line = (await self.proc.stderr.readline()).decode(errors="replace")
        if line:
            self.log.append(line.rstrip("\n"))
            async with self._more:
                self._more.notify_all()
        return line

    async def _read_all(self) -> None:
        while await self._read_line():
            pass

    async def logged(self, pattern: str) -> re.Match[str]:
        """Wait for a line of the log matching `pattern`; the first such line."""

        def found() -> re.Match[str] | None:
            return next((m for ln in self.log if (m := re.search(pattern, ln))), None)

        try:
            async with asyncio.timeout(WAIT_S), self._more:
                await self._more.wait_for(found)
        except TimeoutError:
            raise AssertionError(f"no {pattern!r} in the log\n{self.tail()}") from None
        match = found()
        assert match is not None
        return match

    def tail(self, n: int = 40) -> str:
        return "--- server log ---\n" + "\n".join(self.log[-n:])

    def errors(self) -> list[str]:
        return [ln for ln in self.log if "Traceback" in ln or re.match(r"\S+ \S+ ERROR ", ln)]

    async def stop(self) -> None:
        """SIGTERM, or kill if it lingers; by the end its whole log is read."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(WAIT_S):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(WAIT_S):
                    await self._reader


@pytest.fixture
async def server() -> AsyncIterator[ServerProcess]:
    proc = await ServerProcess.start()
    try:
        yield proc
    finally:
        await proc.stop()
    assert not proc.errors(), f"the server logged errors\n{proc.tail(80)}"


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


def stamped(line: str) -> re.Pattern[str]:
    """A chat line as the text door writes it: `[HH:MM] ` then `line`."""
    return re.compile(r"\[\d\d:\d\d\] " + re.escape(line))


async def hears(server: ServerProcess, client: ChatClient, line: str | re.Pattern[str]) -> None:
    """The text-door user reads until `line` comes, or fails showing what did."""
    try:
        await client.expect(line, timeout=WAIT_S)
    except TimeoutError:
        seen = "\n".join(client.seen[-20:])
        raise AssertionError(
            f"{TEXT} never got {line!r}\n--- {TEXT} saw ---\n{seen}\n{server.tail()}"
        ) from None


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
