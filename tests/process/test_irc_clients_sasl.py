"""irssi and WeeChat log in to an account with SASL, set up by the README's own lines.

Each test starts `server.py` (tests/rigs/serverprocess.py) and a real client in tmux
(tests/rigs/tmuxrig.py), then types the commands of README.md's "With an IRC client"
as they are written there, with the test's port and password in place of `6667` and
`PASSWORD`: if the README stops working, these tests fail. What each client shows is
read from its screen; the server's log must never hold the password.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.rigs.chat import ChatClient
from tests.rigs.irc import IrcClient as RawIrc
from tests.rigs.serverprocess import ROOT, ServerProcess, hears, stamped
from tests.rigs.tmuxrig import IrcClient, Irssi, Pane, WeeChat

ACCOUNT = "alice"
PASSWORD = "c0rrect-h0rse"
WRONG = "not-the-password"
TEXT = "textuser"

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


def readme_block(marker: str) -> list[str]:
    """The lines of the code block in README.md's "With an IRC client" holding `marker`."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### With an IRC client\n", 1)[1].split("\n## ", 1)[0]
    blocks: list[str] = re.findall(r"^```[^\n]*\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    found = [block for block in blocks if marker in block]
    assert len(found) == 1, f"README.md, With an IRC client: no one block with {marker!r}"
    return found[0].splitlines()


def as_typed(lines: list[str], port: int, password: str) -> list[str]:
    return [line.replace("6667", str(port)).replace("PASSWORD", password) for line in lines]


def sasl_lines(client: IrcClient, port: int, password: str, mechanism: str) -> list[str]:
    """The README's lines that make `client` log in with SASL (`mechanism`: WeeChat's
    name of one, as the README gives it)."""
    marker = "/network add" if isinstance(client, Irssi) else "/reconnect chatroom"
    lines = as_typed(readme_block(marker), port, password)
    if mechanism != "plain":
        assert f"(`{mechanism}` for " in (ROOT / "README.md").read_text()
        chosen = f"sasl_mechanism {mechanism}"
        lines = [line.replace("sasl_mechanism plain", chosen) for line in lines]
    return lines


@pytest.fixture
async def server() -> AsyncIterator[ServerProcess]:
    async with ServerProcess.running() as proc:
        yield proc
    assert [ln for ln in proc.log if PASSWORD in ln or WRONG in ln] == [], "a password was logged"


@contextlib.asynccontextmanager
async def running(
    kind: type[IrcClient], server: ServerProcess, home: Path
) -> AsyncIterator[IrcClient]:
    """A client of `kind` going by `alice`, in a pane closed after the test."""
    if shutil.which(kind.program) is None:
        pytest.skip(f"{kind.program} is not installed")
    pane = Pane(kind.program, context=server.tail)
    try:
        yield kind(pane, ACCOUNT, home)
    finally:
        await pane.close()


async def type_all(client: IrcClient, lines: list[str]) -> None:
    for line in lines:
        await client.pane.type(line)


async def registered(client: IrcClient, port: int) -> None:
    """`client`, connected as the README's first command does, registers its nick."""
    await client.start(port)
    await type_all(client, as_typed(readme_block("NickServ REGISTER"), port, PASSWORD))
    await client.expect(f"You are now logged in as {ACCOUNT}", client.status)


@pytest.mark.parametrize(
    ("kind", "mechanism", "logged"),
    [
        (Irssi, "plain", "PLAIN"),
        (WeeChat, "plain", "PLAIN"),
        (WeeChat, "scram-sha-256", "SCRAM-SHA-256"),
    ],
    ids=["irssi-PLAIN", "weechat-PLAIN", "weechat-SCRAM-SHA-256"],
)
async def test_a_client_set_up_as_the_readme_says_logs_in_with_sasl(
    server: ServerProcess, tmp_path: Path, kind: type[IrcClient], mechanism: str, logged: str
) -> None:
    port = server.ports["IRC"]
    async with running(kind, server, tmp_path) as client:
        await registered(client, port)
        await type_all(client, sasl_lines(client, port, PASSWORD, mechanism))
        succeeded = client.sasl_succeeded(ACCOUNT)
        await client.expect(succeeded, client.status, failure=client.refused)
        await client.expect(client.goes_by(ACCOUNT), client.status)
    await server.logged(rf"< b'AUTHENTICATE {logged}'")  # that mechanism, not another


@pytest.mark.parametrize("kind", [Irssi, WeeChat], ids=["irssi", "weechat"])
async def test_a_wrong_password_is_904_and_the_client_never_gets_the_nick(
    server: ServerProcess, tmp_path: Path, kind: type[IrcClient]
) -> None:
    port = server.ports["IRC"]
    async with running(kind, server, tmp_path) as client:
        await registered(client, port)
        await type_all(client, sasl_lines(client, port, WRONG, "plain"))
        await client.expect(client.sasl_failed(), client.status, failure=client.refused)
        watcher = await RawIrc.open(port)
        try:
            await watcher.register("watcher")
            await watcher.send(f"ISON {ACCOUNT}")
            await watcher.expect(":irc.test 303 watcher :")  # nobody goes by alice
        finally:
            await watcher.close()
    welcomes = [ln for ln in server.log if f"> :irc.test 001 {ACCOUNT} " in ln]
    assert len(welcomes) == 1, "welcomed as alice after the wrong password too"


async def test_an_account_registered_on_the_text_door_logs_in_from_irssi_and_chats(
    server: ServerProcess, tmp_path: Path
) -> None:
    owner = await ChatClient.open(server.ports["text"])
    try:
        await owner.login(ACCOUNT)
        await owner.send(f"/register {PASSWORD}")
        registered = f"*NickServ* Account {ACCOUNT} registered; you are logged in to it."
        await hears(server, owner, stamped(registered))
    finally:
        await owner.close()
    await server.logged(rf"\({ACCOUNT}\) disconnected")  # the name is free again
    text = await ChatClient.open(server.ports["text"])
    try:
        await text.login(TEXT)
        await text.create("general")
        async with running(Irssi, server, tmp_path) as irssi:
            assert isinstance(irssi, Irssi)
            await irssi.start_unconnected()
            await type_all(irssi, sasl_lines(irssi, server.ports["IRC"], PASSWORD, "plain"))
            await irssi.expect(irssi.sasl_succeeded(ACCOUNT), irssi.status)
            await irssi.pane.type("/join #general")
            await irssi.expect(irssi.joined(ACCOUNT))
            await hears(server, text, f"* {ACCOUNT} has joined general")
            await irssi.say("hello from irssi")
            await hears(server, text, stamped(f"<{ACCOUNT}> hello from irssi"))
            await text.send("hello from the text door")
            await irssi.expect(irssi.said(TEXT, "hello from the text door"))
    finally:
        await text.close()
