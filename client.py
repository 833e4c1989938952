"""The chatroom client: `python client.py [--host H] [--port P] [--name NAME]`.

Two tasks share a TaskGroup: one reads the keyboard (or a pipe) and sends lines, the
other reads the server and shows its lines; the first to finish ends the other. On a
terminal it is a line editor whose input line survives incoming messages
(`chatclient.tty`); with a pipe, or where termios is missing (Windows), a plain line
client. Standard library only; nothing runs at import.
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import io
import os
import ssl
import sys
import threading
from dataclasses import dataclass, field
from typing import TextIO

from chatclient.conversation import Conversation
from chatclient.net import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    Client,
    Outcome,
    first_to_finish,
    line_too_long,
    tls_context,
)
from chatclient.render import render
from utils import port_number

# When stdin ends: half-close (the server answers every line it has, then closes),
# and wait for it to close, giving up after EOF_IDLE_S of silence.
EOF_IDLE_S = 5.0
STDIN_FD = 0


@dataclass(frozen=True, slots=True)
class Options:
    """The command line, resolved."""

    host: str
    port: int
    name: str | None
    color: str
    bell: bool
    max_line_bytes: int = 2048
    reconnect: bool | None = None  # None: on in the terminal UI, off with a pipe
    tls: ssl.SSLContext | None = None  # --tls, --cafile, --insecure
    account_password: str | None = field(default=None, repr=False)  # --password-file


def server_port(text: str) -> int:
    """A port a server can listen on: 1 to 65535 (0 only means "any" when listening)."""
    return port_number(text, lowest=1)


def parse_args(argv: list[str] | None = None) -> Options:
    """Options from the command line (`--help` explains each)."""
    parser = argparse.ArgumentParser(
        prog="chatroom" if os.path.basename(sys.argv[0]) == "chatroom" else "client.py",
        description="Terminal client for the chatroom server. On a terminal: line "
        "editing, history, colors. With stdin from a pipe: lines in, lines out.",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="server address (default: %(default)s)")
    add("--port", type=server_port, default=8080, help="server TCP port (default: %(default)s)")
    add("--name", help="answer the username prompt with NAME (asked again if it is taken)")
    add(
        "--password-file",
        metavar="FILE",
        help="answer the server's `Enter the password for NAME:` (a registered name) "
        "with the first line of FILE",
    )
    add(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="color lines by kind; auto: on an interactive terminal unless NO_COLOR "
        "is set (default: %(default)s)",
    )
    add(
        "--no-bell",
        dest="bell",
        action="store_false",
        help="do not ring the terminal bell for private messages and mentions of your name",
    )
    add(
        "--max-line",
        type=positive,
        default=2048,
        metavar="BYTES",
        help="the server's longest line in bytes of UTF-8; a longer line is not sent "
        "(default: %(default)s)",
    )
    add(
        "--reconnect",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="after a dropped connection, reconnect (backing off from 1 s to 30 s) and "
        "take back the name and room (default: on in the terminal, off with a pipe)",
    )
    add(
        "--tls",
        action="store_true",
        help="connect over TLS, checking the server's "
        "certificate against the system's CAs (the server's TLS port is 8443)",
    )
    add(
        "--cafile",
        metavar="FILE",
        help="with TLS, trust the CA certificates (or the "
        "self-signed certificate) in FILE instead; implies --tls",
    )
    add("--insecure", action="store_true", help="with TLS, do not check the server's "
        "certificate at all (said on every connect); implies --tls")  # fmt: skip
    args = parser.parse_args(argv)
    tls = None
    if args.tls or args.cafile or args.insecure:
        try:
            tls = tls_context(args.cafile, args.insecure)
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
            parser.error(f"--cafile: cannot use {args.cafile}: {str(reason).lower()}")
    password = None
    if args.password_file:
        try:
            password = read_password(args.password_file)
        except (OSError, UnicodeError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            parser.error(f"--password-file: cannot use {args.password_file}: {reason}")
    return Options(
        args.host, args.port, args.name, args.color, args.bell, args.max_line, args.reconnect,
        tls, password,
    )  # fmt: skip


def read_password(path: str) -> str:
    """An account's password: the first line of the file at `path`, without its line
    end. ValueError when that line is empty."""
    with open(path, encoding="utf-8") as file:
        password = file.readline().rstrip("\r\n")
    if not password:
        raise ValueError("its first line is empty")
    return password


def positive(text: str) -> int:
    """argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def use_color(choice: str, interactive: bool, environ: dict[str, str]) -> bool:
    """`always`/`never`, or auto: on an interactive terminal when NO_COLOR is unset."""
    if choice != "auto":
        return choice == "always"
    return interactive and not environ.get("NO_COLOR")


def can_edit_lines(stdin: TextIO | None, stdout: TextIO | None) -> bool:
    """Whether to run the line editor: both ends are terminals, and termios exists."""
    try:
        import termios  # noqa: F401  (missing on Windows: plain line mode)
    except ImportError:
        return False
    return stdin is not None and stdout is not None and stdin.isatty() and stdout.isatty()


def report(message: str) -> None:
    """Tell the user one line, on stderr (stdout carries only the server's lines)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def _read_stdin(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
    """Thread body: queue each stdin line, then None. It reads the file descriptor, not
    `sys.stdin`, whose buffer lock a blocked daemon thread would hold at exit."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    pending = ""
    try:
        while chunk := os.read(STDIN_FD, 65536):
            *lines, pending = (pending + decoder.decode(chunk)).split("\n")
            for line in lines:
                loop.call_soon_threadsafe(queue.put_nowait, line.removesuffix("\r"))
    except OSError:
        pass
    if pending := pending + decoder.decode(b"", final=True):
        loop.call_soon_threadsafe(queue.put_nowait, pending.removesuffix("\r"))
    loop.call_soon_threadsafe(queue.put_nowait, None)


async def pipe_input(client: Client, name: str | None, max_line_bytes: int) -> Outcome:
    """Send --name, then every stdin line (one too long for the server is reported on
    stderr instead; while reconnecting, lines wait). At its end, let the server finish
    answering: half-close; the session ends when the server closes (or stays silent)."""
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    threading.Thread(target=_read_stdin, args=(loop, queue), daemon=True).start()
    if name is not None:
        await client.send(name)
    while (line := await queue.get()) is not None:
        await client.wait_ready()
        if notice := line_too_long(line, max_line_bytes):
            report(notice)
        else:
            await client.send(line)
    await client.wait_ready()
    client.half_close()
    await client.wait_quiet(EOF_IDLE_S)
    return Outcome(EXIT_OK)


async def run_plain(client: Client, options: Options, color: bool, out: TextIO) -> Outcome:
    """The plain line client: every server line printed as it comes (the reclaim code
    too), nothing more; after a reconnect, the conversation's replies are sent."""

    def show(line: str) -> None:
        lines, reply = client.conversation.receive(line)
        for shown in lines:
            out.write(render(shown, None, color)[0] + "\n")
        out.flush()
        if reply is not None and reply.send is not None:
            client.send_nowait(reply.send)
        if reply is not None and reply.notice is not None:
            report(reply.notice)

    return await first_to_finish(
        pipe_input(client, options.name, options.max_line_bytes), client.run(show)
    )


async def run(options: Options) -> Outcome:
    """Connect and talk until one side ends; the connection is closed on every path."""
    interactive = can_edit_lines(sys.stdin, sys.stdout)
    reconnect = interactive if options.reconnect is None else options.reconnect
    conversation = Conversation(auto_name=options.name if interactive else None)
    conversation.account_password = options.account_password
    client = Client(
        options.host, options.port, conversation, reconnect=reconnect, notify=report,
        tls=options.tls,
    )  # fmt: skip
    if failed := await client.open():
        return failed
    color = use_color(options.color, interactive, dict(os.environ))
    try:
        if interactive:
            from chatclient.tty import run_terminal

            return await run_terminal(
                client,
                sys.stdin,
                sys.stdout,
                color=color,
                bell=options.bell,
                max_line_bytes=options.max_line_bytes,
            )
        return await run_plain(client, options, color, sys.stdout)
    finally:
        await client.close()


def first_leaf(exc: BaseException) -> BaseException:
    """The first exception inside (nested) exception groups: the one worth naming."""
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def main(argv: list[str] | None = None) -> int:
    """Run the client; return the exit status. No traceback ever reaches the user."""
    options = parse_args(argv)
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")
    try:
        outcome = asyncio.run(run(options))
    except KeyboardInterrupt:
        outcome = Outcome(EXIT_INTERRUPTED, "Interrupted.")
    except Exception as exc:  # stdout closed (| head), or a bug: one line either way
        leaf = first_leaf(exc)
        if isinstance(leaf, BrokenPipeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            outcome = Outcome(EXIT_ERROR)
        else:
            outcome = Outcome(EXIT_ERROR, f"Internal error: {leaf!r}")
    if outcome.message:
        report(outcome.message)
    return outcome.status


if __name__ == "__main__":
    sys.exit(main())
