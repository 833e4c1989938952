"""Real terminal programs under test, each in a tmux server of its own: type, read, wait.

A `Pane` starts a tmux server on a private socket (`tmux -L NAME`, no config file), so
tests never touch the user's tmux. Reading is `capture-pane`; waiting polls the screen
until a pattern shows up, with a deadline and the screen in the failure message; never
a sleep. `Irssi` and `WeeChat` drive those IRC clients in a pane and say, as regexes,
how each shows what happens in a channel, and a SASL login that works or fails. No chat
server here: the tests start it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import shlex
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import ClassVar

WAIT_S = 10.0
SWITCH_S = 1.0  # to wait for a window before asking for it again
POLL_S = 0.05
_serial = itertools.count()


class PaneError(AssertionError):
    """What the test waited for did not show up (or something it must not see did)."""


async def tmux(socket: str, *args: str) -> str:
    """Run one tmux command on `socket`; its stdout. A failing command raises."""
    proc = await asyncio.create_subprocess_exec(
        "tmux", "-L", socket, "-f", os.devnull, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"tmux {' '.join(args)}: {err.decode().strip()}")
    return out.decode()


class Pane:
    """One program in one tmux session, on a tmux server of its own."""

    def __init__(self, name: str, *, context: Callable[[], str] = str) -> None:
        self.name = name
        self.socket = f"chatroom-test-{os.getpid()}-{next(_serial)}-{name}"
        self.context = context  # more to show when a wait fails (a server log, say)
        self.socket_path: Path | None = None

    async def start(
        self, argv: list[str], env: Mapping[str, str], *, width: int = 200, height: int = 50
    ) -> None:
        settings = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
        await tmux(
            self.socket, "new-session", "-d", "-s", self.name, "-x", str(width),
            "-y", str(height), *settings, shlex.join(argv),
        )  # fmt: skip
        where = await tmux(self.socket, "display-message", "-p", "#{socket_path}")
        self.socket_path = Path(where.strip())

    async def type(self, text: str) -> None:
        """Type `text` literally, then Enter."""
        await tmux(self.socket, "send-keys", "-t", self.name, "-l", "--", text)
        await tmux(self.socket, "send-keys", "-t", self.name, "Enter")

    async def screen(self) -> str:
        """What the pane shows now, one line per row, trailing blanks trimmed."""
        try:
            return await tmux(self.socket, "capture-pane", "-p", "-t", self.name)
        except RuntimeError as exc:  # the program exited and took its session along
            return f"(no screen: {exc})"

    async def wait_gone(self, pattern: str, *, timeout: float = WAIT_S) -> None:
        """Poll the screen until `pattern` no longer shows (after clearing it, say)."""
        gone = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while gone.search(screen := await self.screen()):
            if time.monotonic() > deadline:
                self.fail(f"{pattern!r} still there after {timeout:g} s", screen)
            await asyncio.sleep(POLL_S)

    async def wait_for(
        self, pattern: str, *, failure: str | None = None, timeout: float = WAIT_S
    ) -> re.Match[str]:
        """Poll the screen until `pattern` (a regex, per line) shows; fail at once on
        `failure`, and with the screen after `timeout` seconds."""
        wanted = re.compile(pattern, re.MULTILINE)
        bad = re.compile(failure, re.MULTILINE) if failure else None
        deadline = time.monotonic() + timeout
        while True:
            screen = await self.screen()
            if found := wanted.search(screen):
                return found
            if bad and (oops := bad.search(screen)):
                self.fail(f"{oops[0]!r} instead of {pattern!r}", screen)
            if time.monotonic() > deadline:
                self.fail(f"no {pattern!r} within {timeout:g} s", screen)
            await asyncio.sleep(POLL_S)

    def fail(self, why: str, screen: str) -> None:
        rows = "\n".join(row for row in screen.splitlines() if row.strip())
        raise PaneError(f"{self.name}: {why}\n--- screen ---\n{rows}\n{self.context()}")

    async def close(self) -> None:
        """Kill the tmux server and whatever still runs in it; remove its socket."""
        with contextlib.suppress(RuntimeError):  # gone: the program quit, tmux with it
            await tmux(self.socket, "kill-server")
        if self.socket_path is not None:
            self.socket_path.unlink(missing_ok=True)


class IrcClient(ABC):
    """A real IRC client in a pane, as `nick`, in its own home directory `home`.

    The wording methods return a regex for one line of its screen."""

    program: ClassVar[str]
    status: ClassVar[str] = "1"  # the window (irssi) or buffer (WeeChat) of the server
    clear_command: ClassVar[str]
    refused: ClassVar[str]  # how it says that a command typed in it failed

    def __init__(self, pane: Pane, nick: str, home: Path) -> None:
        self.pane = pane
        self.nick = nick
        self.home = home
        self.shown = ""  # the window on screen, as last asked for

    @abstractmethod
    async def start(self, port: int) -> None:
        """Run the client, connecting to 127.0.0.1:`port`; return once it is welcomed."""

    @abstractmethod
    def switch_to(self, window: str) -> str:
        """The command that puts a window (a channel, a private chat, `1`) on screen."""

    @abstractmethod
    def showing(self, window: str) -> str:
        """How the status bar or prompt says that `window` is on screen."""

    async def show(self, window: str) -> None:
        """Put `window` on screen, asking again while it does not exist yet (a private
        chat opens when the first message comes)."""
        if window == self.shown:
            return
        deadline = time.monotonic() + WAIT_S
        while True:
            await self.pane.type(self.switch_to(window))
            try:
                await self.pane.wait_for(self.showing(window), timeout=SWITCH_S)
                break
            except PaneError:
                if time.monotonic() > deadline:
                    raise
        self.shown = window

    async def say(self, text: str) -> None:
        """Type `text` (a line or a command) in #general."""
        await self.show("#general")
        await self.pane.type(text)

    async def expect(
        self, pattern: str, window: str = "#general", *, failure: str | None = None
    ) -> re.Match[str]:
        await self.show(window)
        return await self.pane.wait_for(pattern, failure=failure)

    async def clear(self) -> None:
        """Empty #general's window, so what shows next is new."""
        await self.say(self.clear_command)
        await self.pane.wait_gone(self.joined(self.nick))

    @abstractmethod
    def said(self, nick: str, text: str) -> str: ...
    @abstractmethod
    def acted(self, nick: str, text: str) -> str: ...
    @abstractmethod
    def whispered(self, nick: str, text: str) -> str: ...
    @abstractmethod
    def topic_set(self, nick: str, text: str) -> str: ...
    @abstractmethod
    def names(self, nick: str) -> str: ...
    @abstractmethod
    def joined(self, nick: str) -> str: ...
    @abstractmethod
    def left(self, nick: str) -> str: ...
    @abstractmethod
    def quit(self, nick: str) -> str: ...
    @abstractmethod
    def whois(self, nick: str) -> str: ...
    @abstractmethod
    def sasl_succeeded(self, account: str) -> str:
        """In the status window: the 900, the 903, then the welcome, for nick `account`."""

    @abstractmethod
    def sasl_failed(self) -> str:
        """In the status window: the 904, then the client disconnecting."""

    @abstractmethod
    def goes_by(self, nick: str) -> str:
        """The status bar or prompt naming the client's own nick."""


def mask(nick: str) -> str:
    """How the IRC door names a text-door user, `~nick@127.0.0.1`, as a regex."""
    return re.escape(f"~{nick}@127.0.0.1")


def clean_env(home: Path) -> dict[str, str]:
    """The client's own HOME, UTF-8, and no sign of an outer tmux."""
    return {"HOME": str(home), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TMUX": ""}


IRSSI_CONFIG = """settings = {
  core = { nick = "%s"; user_name = "%s"; real_name = "chatroom test"; settings_autosave = "no"; };
  # irssi's own flood control would space our commands 2.2 s apart.
  "irc/core" = { cmd_queue_speed = "0msec"; cmds_max_at_once = "100"; };
  # Keys typed quickly are a paste to irssi, and a pasted command is not run.
  "fe-text" = { paste_detect_time = "0msec"; };
};
"""


class Irssi(IrcClient):
    program = "irssi"
    clear_command = "/clear"
    refused = r"-!- Irssi: (Unknown command|Unknown option|Not enough parameters).*"
    bad_config = "Unknown settings in configuration.*"

    async def start(self, port: int) -> None:
        (self.home / "config").write_text(IRSSI_CONFIG % (self.nick, self.nick))
        argv = ["irssi", f"--home={self.home}", "-n", self.nick, "-c", "127.0.0.1", "-p", str(port)]
        await self.pane.start(argv, clean_env(self.home))
        welcome = "Welcome to the chatroom IRC network"
        await self.expect(welcome, self.status, failure=self.bad_config)

    async def start_unconnected(self) -> None:
        """Run irssi connected to nothing, its nick its own default (not `self.nick`,
        as for a user who starts plain `irssi`); return once it takes commands."""
        (self.home / "config").write_text(IRSSI_CONFIG % ("newcomer", "newcomer"))
        await self.pane.start(["irssi", f"--home={self.home}"], clean_env(self.home))
        await self.pane.wait_for(self.showing(self.status), failure=self.bad_config)
        self.shown = self.status

    def switch_to(self, window: str) -> str:
        return f"/window goto {window}"

    def showing(self, window: str) -> str:
        name = "(status)" if window == self.status else window
        return rf"^\[{re.escape(name)}\]"  # the prompt

    def said(self, nick: str, text: str) -> str:
        return rf"<[ @+]?{nick}> {re.escape(text)}$"

    def acted(self, nick: str, text: str) -> str:
        return rf" \* {nick} {re.escape(text)}$"

    def whispered(self, nick: str, text: str) -> str:
        return rf"<{nick}> {re.escape(text)}$"

    def topic_set(self, nick: str, text: str) -> str:
        return rf"-!- {nick} changed the topic of #general to: {re.escape(text)}$"

    def names(self, nick: str) -> str:
        return rf"\[Users #general\]\n.*\[[ @+]{nick}\]"

    def joined(self, nick: str) -> str:
        return rf"-!- {nick} \[.*\] has joined #general$"

    def left(self, nick: str) -> str:
        return rf"-!- {nick} \[{mask(nick)}\] has left #general"

    def quit(self, nick: str) -> str:
        return rf"-!- {nick} \[{mask(nick)}\] has quit \[Quit\]$"

    def whois(self, nick: str) -> str:
        return rf"-!- {nick} \[{mask(nick)}\]$"

    def sasl_succeeded(self, account: str) -> str:
        return (
            rf"-!- \S+ {account} You are now logged in as {account}\n"
            r".*-!- SASL authentication succeeded\n"
            rf".*-!- Welcome to the chatroom IRC network, {account}$"
        )

    def sasl_failed(self) -> str:
        return (
            r"-!- Cannot authenticate via SASL \(SASL authentication failed\)\n"
            r".*-!- Irssi: Connection lost to 127\.0\.0\.1$"
        )

    def goes_by(self, nick: str) -> str:
        return rf"^ \[\d\d:\d\d\] \[{nick}(\(\+\w+\))?\] "


class WeeChat(IrcClient):
    program = "weechat"
    clear_command = "/buffer clear"
    refused = r"=!= \| .*"  # its prefix for every error
    end = r"\s*(│|$)"  # a line of the chat area ends where the nick list begins

    async def start(self, port: int) -> None:
        commands = [
            # WeeChat's own flood control would space our commands 2 s apart.
            "/set irc.server_default.anti_flood_prio_high 0",
            "/set irc.server_default.anti_flood_prio_low 0",
            # Keys typed quickly are a paste to WeeChat, which asks before sending it.
            "/set weechat.look.paste_max_lines -1",
            f"/server add chatroom 127.0.0.1/{port} -notls",  # as the README says
            f"/set irc.server.chatroom.nicks {self.nick}",
            "/connect chatroom",
        ]
        argv = ["weechat", "--dir", str(self.home), "-P", "irc", "-r", ";".join(commands)]
        await self.pane.start(argv, clean_env(self.home))
        await self.expect("Welcome to the chatroom IRC network", self.status)

    def switch_to(self, window: str) -> str:
        return f"/buffer {window}"

    def showing(self, window: str) -> str:
        name = "server" if window == self.status else re.escape(window)
        return rf"\[irc/chatroom\] \d+:{name}(?![\w-])"  # the status bar

    def said(self, nick: str, text: str) -> str:
        return rf"[ @+]{nick} \| {re.escape(text)}{self.end}"

    def acted(self, nick: str, text: str) -> str:
        return rf" \* \| {nick} {re.escape(text)}{self.end}"

    def whispered(self, nick: str, text: str) -> str:
        return rf" {nick} \| {re.escape(text)}{self.end}"

    def topic_set(self, nick: str, text: str) -> str:
        changed = rf"{nick} has changed topic for #general (from \".*\" )?to"
        return rf"-- \| {changed} \"{re.escape(text)}\""

    def names(self, nick: str) -> str:
        return rf"-- \| Nicks #general: \[.*\b{nick}\b.*\]"

    def joined(self, nick: str) -> str:
        return rf"--> \| {nick} \(.*\) has joined #general"

    def left(self, nick: str) -> str:
        return rf"<-- \| {nick} \({mask(nick)}\) has left #general"

    def quit(self, nick: str) -> str:
        return rf"<-- \| {nick} \({mask(nick)}\) has quit \(Quit\)"

    def whois(self, nick: str) -> str:
        return rf"\[{nick}\] \({mask(nick)}\)"

    def sasl_succeeded(self, account: str) -> str:
        return (
            rf"-- \| You are now logged in as {account} \(.*\)\n"
            r".*-- \| SASL authentication successful\n"
            rf".*-- \| Welcome to the chatroom IRC network, {account}$"
        )

    def sasl_failed(self) -> str:
        return r"-- \| SASL authentication failed\n.*-- \| irc: disconnected from server$"

    def goes_by(self, nick: str) -> str:
        return rf"^\[{nick}(\(\+\w+\))?\]$"  # the input bar
