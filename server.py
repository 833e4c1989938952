"""The server program: the command line becomes a Config, then logging, the workers
(--workers), and the server itself (net/listeners.py) until SIGINT or SIGTERM.

`python3 server.py --help` lists the options (config/options.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import getpass
import importlib
import logging
import os
import resource
import signal
import sys
from collections.abc import Sequence

from config.certificates import TlsSetupError
from config.options import parse_args
from config.settings import Config
from net.listeners import ChatServer, ClusterUnreachable, failed_port
from registry.credentials import derive
from registry.history import StoreError
from utils import os_reason

log = logging.getLogger("chatroom")

__all__ = ["ChatServer", "main", "parse_args"]


def raise_open_file_limit() -> None:
    """Let the server hold as many sockets as the hard limit allows, without ulimit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def serve(config: Config) -> int:
    """Run until SIGINT or SIGTERM, then shut down gracefully."""
    server = ChatServer(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):  # before start(): a signal while it
        with contextlib.suppress(NotImplementedError):  # runs still stops gracefully
            loop.add_signal_handler(signum, stop.set)  # (Windows: Ctrl-C raises instead)
    with contextlib.suppress(NotImplementedError, AttributeError):  # no SIGHUP on Windows
        loop.add_signal_handler(signal.SIGHUP, server.reload)
    try:
        await server.start()
    except TlsSetupError as exc:
        log.error("TLS: %s", exc)
        return 1
    except (ClusterUnreachable, StoreError) as exc:
        log.error("%s", exc)
        return 1
    except OSError as exc:
        port = failed_port(server, config)
        log.error("cannot listen on %s:%s: %s", config.host, port, os_reason(exc))
        return 1
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await server.aclose()
    return 0


def hash_password() -> int:
    """--hash-password: a password from standard input (not echoed at a terminal) as the
    scram-sha-256$ record that --oper and a config file's password-hash take."""
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("server.py: error: an empty password", file=sys.stderr)
        return 2
    print(derive(password).encode())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    if "--hash-password" in (sys.argv[1:] if argv is None else argv):
        return hash_password()
    config = parse_args(argv)
    logging.basicConfig(
        level=config.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    raise_open_file_limit()
    if config.workers > 1:
        return run_workers(config)
    factory = None
    if config.uvloop:
        try:
            factory = importlib.import_module("uvloop").new_event_loop  # optional extra
        except ImportError:
            log.warning("uvloop is not installed; using asyncio's own loop")
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(serve(config))
    except KeyboardInterrupt:
        return 0


def run_workers(config: Config) -> int:
    """--workers N: N forked server processes, each a node of the cluster, sharing the
    ports; SIGINT and SIGTERM are passed on, and the exit status is the worst one."""
    children: list[int] = []
    for n in range(1, config.workers + 1):
        name = f"{config.node_name}-{n}" if config.node_name else ""
        pid = os.fork()
        if pid == 0:
            worker = dataclasses.replace(config, workers=1, node_name=name)
            try:
                with asyncio.Runner() as runner:
                    code = runner.run(serve(worker))
            except KeyboardInterrupt:
                code = 0
            os._exit(code)
        children.append(pid)

    def pass_on(signum: int, frame: object) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, pass_on)
    signal.signal(signal.SIGINT, pass_on)
    worst = 0
    for pid in children:
        _, status = os.waitpid(pid, 0)
        worst = max(worst, os.waitstatus_to_exitcode(status) & 0xFF)
    return worst


if __name__ == "__main__":
    sys.exit(main())
