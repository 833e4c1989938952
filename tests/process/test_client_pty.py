"""The interactive client under a pseudo-terminal (pexpect), against `server.py` run
as a process on port 0, with another user on a raw asyncio socket.

What a person sees is checked on a `VirtualScreen` fed with everything the client
wrote; the terminal's modes afterwards with `stty -a` in the same terminal.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pexpect
import pytest

from tests.process.test_client_pipe import Peer
from tests.unit.test_client_vt import VirtualScreen

pytestmark = pytest.mark.timeout(30)

ROOT = Path(__file__).resolve().parents[2]
EXPECT_S = 5.0
LEFT, UP = "\x1b[D", "\x1b[A"


@contextmanager
def serve(*args: str) -> Iterator[int]:
    """`server.py --port 0 ARGS` as a process; the port it logs."""
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py"), "--port", "0", "--rate", "0", "--no-history",
         *args],
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert server.stderr is not None
    try:
        for line in server.stderr:
            if match := re.search(r"listening on \S+:(\d+)", line):
                break
        else:
            raise AssertionError("the server did not start")
        threading.Thread(target=server.stderr.read, daemon=True).start()
        yield int(match[1])
    finally:
        server.terminate()
        server.wait(EXPECT_S)


@pytest.fixture
def port() -> Iterator[int]:
    with serve() as bound:
        yield bound


class Terminal:
    """The client in a pty of `rows` x `cols`; keeps every byte it wrote."""

    def __init__(self, command: str, cols: int = 80, rows: int = 24) -> None:
        self.log = io.BytesIO()
        env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
        self.child = pexpect.spawn(
            "sh",
            ["-c", command],
            cwd=str(ROOT),
            env={**env, "TERM": "xterm-256color"},
            dimensions=(rows, cols),
            timeout=EXPECT_S,
        )
        self.child.logfile_read = self.log
        self.cols, self.rows = cols, rows

    @classmethod
    def client(
        cls, port: int, *args: str, cols: int = 80, rows: int = 24, after: str = ""
    ) -> Terminal:
        """`client.py` then, in the same terminal, `after` (e.g. `stty -a`)."""
        argv = shlex.join([sys.executable, "client.py", "--port", str(port), *args])
        return cls(f'{argv}; echo "exit=$?"; {after}', cols=cols, rows=rows)

    async def expect(self, pattern: str | type[pexpect.EOF]) -> str:
        """Wait (without blocking the event loop) until the output matches `pattern`."""
        wanted = pattern.encode() if isinstance(pattern, str) else pattern
        await asyncio.to_thread(self.child.expect, wanted)
        after = self.child.after
        return after.decode() if isinstance(after, bytes) else ""

    async def type(self, keys: str, shown: str | None = None) -> None:
        """Type `keys`; wait until the redraw shows `shown` (a regex), if given."""
        self.child.send(keys.encode())
        if shown is not None:
            await self.expect(shown)

    def screen(self) -> VirtualScreen:
        screen = VirtualScreen(self.cols, self.rows)
        screen.feed(self.log.getvalue().decode("utf-8", "replace"))
        return screen

    def close(self) -> None:
        self.child.close(force=True)


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for terminal in opened:
        terminal.close()


async def in_room(port: int, terminals: list[Terminal], **kw: str) -> tuple[Terminal, Peer]:
    """dave (a raw socket) in room lobby, and carol (the client in a pty) joining him."""
    peer = await Peer.login(port, "dave")
    await peer.send("/create lobby")
    await peer.expect("/help for commands.")
    term = Terminal.client(port, "--name", "carol", *kw.get("args", "").split())
    terminals.append(term)
    await term.expect(re.escape("Enter your choice: "))
    await term.type("/join lobby\r", re.escape("[lobby] > "))
    await peer.expect("* carol has joined lobby")
    return term, peer


def restored(stty: str) -> bool:
    """Whether `stty -a` shows canonical mode and echo on."""
    return all(re.search(rf"(?<![-\w]){flag}\b", stty) for flag in ("icanon", "echo", "isig"))


async def test_an_incoming_line_appears_above_the_half_typed_line(
    port: int, terminals: list[Terminal]
) -> None:
    term, peer = await in_room(port, terminals)
    await term.type("half a li", "half a li")
    await peer.send("hello carol")
    await term.expect(r"hello .*carol.*\r\n.*\[lobby\] > .*half a li\x1b\[K")
    screen = term.screen()
    assert re.fullmatch(r"\[\d\d:\d\d\] <dave> hello carol", screen.lines()[-2])
    assert screen.lines()[-1] == "[lobby] > half a li"
    assert (screen.row, screen.col) == (len(screen.lines()) - 1, len("[lobby] > half a li"))
    assert screen.bells == 1  # a mention of carol
    await term.type("ne\r")
    await peer.expect("<carol> half a line")


async def test_the_cursor_stays_where_it_was_in_the_middle_of_the_line(
    port: int, terminals: list[Terminal]
) -> None:
    term, peer = await in_room(port, terminals)
    await term.type("漢字abc" + LEFT * 3, r"\[lobby\] > .*漢字abc\x1b\[K\r\x1b\[14C")
    await peer.send("hi")
    await term.expect(r"<dave>.* hi.*\r\n.*\[lobby\] > .*\x1b\[K\r\x1b\[14C")
    screen = term.screen()
    assert screen.lines()[-1] == "[lobby] > 漢字abc"
    assert screen.col == len("[lobby] > ") + 4
    await term.type("X\r")
    await peer.expect("<carol> 漢字Xabc")


async def test_a_line_wider_than_the_terminal_scrolls_instead_of_wrapping(
    port: int, terminals: list[Terminal]
) -> None:
    peer = await Peer.login(port, "dave")
    term = Terminal.client(port, "--name", "carol", cols=30)
    terminals.append(term)
    await term.expect("Enter your choice: ")
    await term.type(
        "/join nowhere " + "x" * 40 + "\x01", re.escape("/join now\x1b[7m>\x1b[0m\x1b[K")
    )
    assert term.screen().lines()[-1] == "Enter your choice: /join now>"
    await term.type("\x05", re.escape("\x1b[7m<\x1b[0m" + "x" * 8 + "\x1b[K\r\x1b[28C"))
    screen = term.screen()
    assert screen.lines()[-1] == "Enter your choice: <" + "x" * 8
    assert screen.col == 28
    await term.type("\x1b[D" * 12, re.escape("\x1b[7m<\x1b[0mxxxxxxxx\x1b[7m>\x1b[0m\x1b[K"))
    screen = term.screen()
    assert screen.lines()[-1] == "Enter your choice: <xxxxxxxx>"
    assert screen.col == 20
    await term.type("\r", r"! [^\r]*\r+\n")
    await peer.close()


async def test_up_recalls_the_last_line_sent(port: int, terminals: list[Terminal]) -> None:
    term, peer = await in_room(port, terminals)
    await term.type("first line\r")
    await peer.expect("<carol> first line")
    await term.type(UP, r"> .*first line\x1b\[K")
    await term.type(" again\r")
    await peer.expect("<carol> first line again")


async def test_menu_answers_stay_on_screen_after_their_prompt(
    port: int, terminals: list[Terminal]
) -> None:
    term = Terminal.client(port, "--color", "never")
    terminals.append(term)
    await term.type("", "Enter your username: ")
    await term.type("zoe\r", "Enter your choice: ")
    await term.type("1\r", "Enter new room name: ")
    await term.type("den\r", re.escape("* Users in den: @zoe"))  # its maker: @
    await term.expect(re.escape("[den] > "))
    lines = term.screen().lines()
    assert lines[-1] == "[den] >"
    assert "Enter your username: zoe" in lines
    assert lines[-4:-1] == [
        "Enter new room name: den",
        "Joined room [den]. Type 'exit' to leave, /help for commands.",
        "* Users in den: @zoe",
    ]


async def test_ctrl_d_quits_with_status_zero_and_restores_the_terminal(
    port: int, terminals: list[Terminal]
) -> None:
    term = Terminal.client(port, "--name", "carol", after="stty -a")
    terminals.append(term)
    await term.expect("Enter your choice: ")
    await term.type("\x04")
    await term.expect("Disconnected.\r\n")
    await term.expect("exit=0")
    await term.expect(pexpect.EOF)
    assert restored(term.log.getvalue().decode())
    assert "Traceback" not in term.log.getvalue().decode()


async def test_ctrl_c_quits_with_status_130_and_restores_the_terminal(
    port: int, terminals: list[Terminal]
) -> None:
    term, _ = await in_room(port, terminals)
    term = Terminal.client(port, "--name", "erin", after="stty -a")
    terminals.append(term)
    await term.expect("Enter your choice: ")
    await term.type("typed half", "typed half")
    await term.type("\x03")
    await term.expect("Interrupted.\r\n")
    await term.expect("exit=130")
    await term.expect(pexpect.EOF)
    assert restored(term.log.getvalue().decode())


async def test_the_server_closing_is_one_line_status_one_and_a_restored_terminal(
    port: int, terminals: list[Terminal]
) -> None:
    term = Terminal.client(port, "--name", "carol", after="stty -a")
    terminals.append(term)
    await term.expect("Enter your choice: ")
    await term.type("4\r")
    await term.expect("Goodbye!")
    await term.expect("exit=0")
    await term.expect(pexpect.EOF)
    assert restored(term.log.getvalue().decode())


def test_stty_check_can_tell_a_raw_terminal_from_a_restored_one() -> None:
    term = Terminal("stty raw -echo; stty -a; stty sane")
    term.child.expect(pexpect.EOF)
    assert not restored(term.log.getvalue().decode())
    term.close()


async def test_connection_refused_under_a_terminal_leaves_it_alone(
    terminals: list[Terminal],
) -> None:
    term = Terminal.client(1, after="stty -a")
    terminals.append(term)
    await term.expect(r"Cannot connect to 127\.0\.0\.1:1: connection refused\.\r\n")
    await term.expect("exit=1")
    await term.expect(pexpect.EOF)
    assert restored(term.log.getvalue().decode())


async def test_a_taken_name_is_asked_for_again_and_typed_by_hand(
    port: int, terminals: list[Terminal]
) -> None:
    peer = await Peer.login(port, "dave")
    term = Terminal.client(port, "--name", "Dave", "--color", "never")
    terminals.append(term)
    await term.expect(r'! The name "Dave" is taken\.\r+\n')
    await term.expect("Enter your username: ")
    await term.type("carol\r", "Enter your choice: ")
    lines = term.screen().lines()
    assert lines[1:4] == [
        "Enter your username: Dave",
        '! The name "Dave" is taken.',
        "Enter your username: carol",
    ]
    await peer.close()


def client_pid(shell_pid: int) -> int:
    """The client started by `sh -c` (Linux: the shell's only child)."""
    children = Path(f"/proc/{shell_pid}/task/{shell_pid}/children").read_text().split()
    assert len(children) == 1
    return int(children[0])


async def test_sigterm_ends_the_client_cleanly_and_restores_the_terminal(
    port: int, terminals: list[Terminal]
) -> None:
    term = Terminal.client(port, "--name", "carol", after="stty -a")
    terminals.append(term)
    await term.expect("Enter your choice: ")
    os.kill(client_pid(term.child.pid), signal.SIGTERM)
    await term.expect("Terminated.\r+\n")
    await term.expect("exit=143")
    await term.expect(pexpect.EOF)
    assert restored(term.log.getvalue().decode())


async def test_a_resized_terminal_redraws_the_input_line_to_the_new_width(
    port: int, terminals: list[Terminal]
) -> None:
    term = Terminal.client(port, "--name", "carol", "--color", "never")
    terminals.append(term)
    await term.expect("Enter your choice: ")
    await term.type("y" * 50, r"y{50}\x1b\[K")
    term.child.setwinsize(24, 40)
    await term.expect(re.escape("\rEnter your choice: <" + "y" * 18 + "\x1b[K\r\x1b[38C"))


@pytest.mark.parametrize(("rows", "cols"), [(20, 60), (30, 60)])
async def test_shrinking_the_terminal_leaves_no_stale_copy_of_the_input_line(
    port: int, terminals: list[Terminal], rows: int, cols: int
) -> None:
    peer = await Peer.login(port, "dave")
    await peer.send("/create café")
    await peer.expect("/help for commands.")
    term = Terminal.client(port, "--name", "carol", "--color", "never", cols=100, rows=30)
    terminals.append(term)
    await term.expect(re.escape("Enter your choice: "))
    await term.type("/join café\r", re.escape("[café] > "))
    for n in range(40):
        await peer.send(f"message {n}")
    await term.expect("message 39")
    typed = ("0123456789" * 7)[:69]
    await term.type(typed, re.escape(typed + "\x1b[K\r\x1b[78C"))
    screen = term.screen()
    before = len(term.log.getvalue())
    term.child.setwinsize(rows, cols)
    await term.expect(r"\x1b\[K\r\x1b\[\d+C")
    await peer.send("after the resize")
    await term.expect(r"after the resize.*\x1b\[K\r\x1b\[\d+C")
    screen.resize(cols, rows)
    screen.feed(term.log.getvalue()[before:].decode())
    lines = screen.lines()
    assert re.fullmatch(r"\[\d\d:\d\d\] <dave> after the resize", lines[-2]), lines
    assert re.fullmatch(r"\[\d\d:\d\d\] <dave> message 39", lines[-3]), lines
    assert lines[-1].startswith("[café] > ")
    assert not any("012345678" in line for line in lines[:-1]), lines
    await peer.close()


async def test_a_line_over_the_server_limit_is_not_sent_and_stays_in_the_input_line(
    port: int, terminals: list[Terminal]
) -> None:
    term, peer = await in_room(port, terminals)
    await term.type("é" * 1050, "éééé\x1b\\[K")
    await term.type("\r", re.escape("! Line too long: 2100 of 2048 bytes; not sent."))
    await term.expect(r"é\x1b\[K\r\x1b\[\d+C")
    lines = term.screen().lines()
    assert lines[-2] == "! Line too long: 2100 of 2048 bytes; not sent."
    assert lines[-1].startswith("[lobby] > ") and lines[-1].endswith("éééééé")
    await term.type("\x7f" * 30 + "\r")  # 1020 characters: 2040 bytes, sent
    lines = await peer.expect("ééé")
    assert lines[-1].endswith("<carol> " + "é" * 1020)
    assert not any("Line too long" in line for line in lines)


async def test_max_line_sets_the_limit(port: int, terminals: list[Terminal]) -> None:
    term, peer = await in_room(port, terminals, args="--max-line 20")
    await term.type("0123456789" * 2 + "A\r", re.escape("! Line too long: 21 of 20 bytes;"))
    await term.type("\x7f\r")
    assert (await peer.expect("789"))[-1].endswith("<carol> " + "0123456789" * 2)


async def test_tab_completes_commands_and_the_names_of_users_in_the_room(
    port: int, terminals: list[Terminal]
) -> None:
    term, dave = await in_room(port, terminals)
    zoe = await Peer.login(port, "Zoë")
    await zoe.send("/join lobby")
    await term.expect("Zoë has joined lobby")
    await term.type("/he\t", re.escape("/help \x1b[K"))
    await term.type("\x15/msg zo\t", re.escape("/msg Zoë \x1b[K"))
    await term.type("hi\r")
    assert (await zoe.expect("hi"))[-1].endswith("*carol* hi")
    await term.type("D\t", re.escape("dave \x1b[K"))
    await dave.close()
    await zoe.close()


async def test_enter_on_an_empty_line_at_a_room_prompt_goes_back_to_the_menu(
    port: int, terminals: list[Terminal]
) -> None:
    term = Terminal.client(port, "--name", "zoe", "--color", "never")
    terminals.append(term)
    await term.expect(re.escape("Enter your choice: "))
    await term.type("2\r", re.escape("* No rooms yet."))  # nothing to join: the menu again
    await term.expect(re.escape("Enter your choice: "))
    peer = await Peer.login(port, "dave")  # a room to join, so that 2 asks for its name
    await peer.send("/create den")
    await peer.expect("* Users in den: @dave")
    for choice, prompt in (("1", "Enter new room name: "), ("2", "Enter room name to join: ")):
        await term.type(f"{choice}\r", re.escape(prompt))
        await term.type("\r", re.escape("--- Chat Menu ---"))
        await term.expect(re.escape("Enter your choice: "))
        lines = term.screen().lines()
        assert lines[-7:-5] == [prompt.rstrip(), "--- Chat Menu ---"]
        assert lines[-1] == "Enter your choice:"
    await term.type("3\r", re.escape("den (1 user)"))  # nothing was created or joined
    await term.type("\r", re.escape('! Invalid choice "". Enter 1, 2, 3 or 4.'))  # the contract
    await term.expect(re.escape("Enter your choice: "))
    await peer.close()


async def test_the_server_password_never_shows_while_typed_nor_after(
    terminals: list[Terminal],
) -> None:
    secret = "s3cret-pw"
    with serve("--password", secret) as port:
        term = Terminal.client(port, "--color", "never")
        terminals.append(term)
        await term.expect(re.escape("Enter the server password: "))
        await term.type("\r", re.escape("! Nothing sent: type the server password, or Ctrl-D"))
        await term.type("s3cret", re.escape("Enter the server password: "))
        await term.type("-wX\x08" + LEFT + "p")
        assert term.screen().lines()[-1] == "Enter the server password:"
        await term.type("\r", re.escape("Enter your username: "))
        await term.type("zoe\r", re.escape("Enter your choice: "))
        await term.type(UP, re.escape("Enter your choice: zoe"))
        await term.type(UP)
        await term.type("\x15/quit\r", "exit=0")
    log = term.log.getvalue().decode()
    assert "s3cret" not in log and "-pw" not in log
    assert "Enter the server password:" in term.screen().lines()
