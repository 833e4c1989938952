"""A baseline for ``bench/tls.py idle --baseline``: asyncio's own TLS (SSLProtocol).

``python bench/asyncio_tls_server.py --tls-cert C --tls-key K``: a login-shaped server
(``Enter your username:``, then ``Enter your choice:`` after any line) over
``loop.create_server(ssl=...)``, to measure what an idle connection costs with asyncio's
TLS layer, which allocates a 256 KiB buffer per connection. Not the chat server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ssl
import sys


class Login(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(b"* Welcome to chatroom.\r\nEnter your username:\r\n")

    def data_received(self, data: bytes) -> None:
        if b"\n" in data:
            self.transport.write(b"Enter your choice:\r\n")


async def serve(cert: str, key: str) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = await asyncio.get_running_loop().create_server(
        Login, "127.0.0.1", 0, ssl=context, backlog=1024
    )
    port = server.sockets[0].getsockname()[1]
    print(f"text door listening on 127.0.0.1:{port} (asyncio TLS)", file=sys.stderr, flush=True)
    await asyncio.Event().wait()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tls-cert", required=True)
    parser.add_argument("--tls-key", required=True)
    args, _ = parser.parse_known_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.tls_cert, args.tls_key))
    return 0


if __name__ == "__main__":
    sys.exit(main())
