"""The browser tests' fixtures: the real server in a subprocess with its WebSocket door
and history on, headless Chromium's pages on it, and the other doors' users (a
text-door client, an IRC client) over raw sockets. Skipped, saying why, without
chromium."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.rigs.browser import Pages, chromium
from tests.rigs.chat import ChatClient
from tests.rigs.irc import IrcClient
from tests.rigs.serverprocess import ServerProcess

TextUser = Callable[[str], Awaitable[ChatClient]]
IrcUser = Callable[[str], Awaitable[IrcClient]]


def server_options(tmp_path: Path) -> list[str]:
    """A WebSocket port, a database of the test's own (history, accounts); no flood
    control, so that the other doors' users may say a lot at once."""
    return ["--websocket-port", "0", "--db", str(tmp_path / "chat.db"), "--rate", "0"]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ServerProcess]:
    async with ServerProcess.running(*server_options(tmp_path)) as running:
        yield running


@pytest.fixture
async def pages(server: ServerProcess) -> AsyncIterator[Pages]:
    async with chromium() as browser:
        opened = Pages(browser, f"http://127.0.0.1:{server.ports['WebSocket']}/")
        try:
            yield opened
        finally:
            await opened.close()


@pytest.fixture
async def text_user(server: ServerProcess) -> AsyncIterator[TextUser]:
    """Text-door users: `await text_user("carol")` is logged in, in the menu."""
    clients: list[ChatClient] = []

    async def open_client(name: str) -> ChatClient:
        client = await ChatClient.open(server.ports["text"])
        clients.append(client)
        await client.login(name)
        return client

    yield open_client
    for client in clients:
        with contextlib.suppress(OSError):
            await client.close()


@pytest.fixture
async def irc_user(server: ServerProcess) -> AsyncIterator[IrcUser]:
    """IRC users: `await irc_user("dave")` is registered (no capabilities)."""
    clients: list[IrcClient] = []

    async def open_client(nick: str) -> IrcClient:
        client = await IrcClient.open(server.ports["IRC"])
        clients.append(client)
        await client.register(nick)
        return client

    yield open_client
    for client in clients:
        with contextlib.suppress(OSError):
            await client.close()
