"""Fixtures: the real server on port 0, and clients that talk to it over sockets."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from config.settings import Config
from net.listeners import ChatServer
from tests.rigs.chat import ChatClient

Connect = Callable[..., Awaitable[ChatClient]]


@pytest.fixture(autouse=True)
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Nothing a client does is logged as an error; tests of bugs clear what they expect."""
    caplog.set_level(logging.INFO)
    yield
    records = [r for when in ("setup", "call", "teardown") for r in caplog.get_records(when)]
    bad = [r for r in records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, f"errors logged: {[r.getMessage() for r in bad]}"


@pytest.fixture
def config() -> Config:
    """The server's defaults on a free port, flood control off (tests of it set it)."""
    return Config(port=0, rate_lines_per_s=0)


@pytest.fixture
async def server(config: Config) -> AsyncIterator[ChatServer]:
    chat = ChatServer(config)
    chat.port = await chat.start()
    yield chat
    await chat.aclose()


@pytest.fixture
async def connect(server: ChatServer) -> AsyncIterator[Connect]:
    """Open clients; `await connect("alice")` also logs in as alice."""
    clients: list[ChatClient] = []

    async def open_client(name: str | None = None) -> ChatClient:
        client = await ChatClient.open(server.port)
        clients.append(client)
        if name is not None:
            await client.login(name)
        return client

    yield open_client
    for client in clients:
        await client.close()
