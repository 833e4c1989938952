"""Fixtures the cluster's process tests share: a real redis-server on a free port in
a temporary directory (tests/rigs/clusterrig.py), and the clients a test opens, closed
at its end."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.rigs.chat import LineClient
from tests.rigs.clusterrig import RedisServer


@pytest.fixture
async def redis() -> AsyncIterator[RedisServer]:
    server = RedisServer()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def clients() -> AsyncIterator[list[LineClient]]:
    opened: list[LineClient] = []
    yield opened
    for client in opened:
        await client.close()
