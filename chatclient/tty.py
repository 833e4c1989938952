"""The client's interactive screen: a raw-mode terminal, the input line at the bottom.

`raw_terminal` saves the terminal's modes and restores them on every way out;
`Screen` owns the line editor and writes what `chatclient.editor` computes. Unix only
(termios): `client.py` imports this module only where termios exists. No sockets here.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import signal
import termios
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from chatclient.conversation import RECLAIM_CODE
from chatclient.editor import (
    Action,
    InputView,
    LineEditor,
    erase_reflowed,
    layout,
    print_above,
    redraw,
)
from chatclient.keys import Key, decode_keys
from chatclient.net import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    Client,
    Outcome,
    first_to_finish,
    line_too_long,
)
from chatclient.render import is_prompt, render, without_secret

Attrs = list[int | list[bytes | int]]

_CLEAR_SCREEN = "\x1b[H\x1b[2J"
_PROMPT_STYLE = "1"
_MARKER_STYLE = "7"  # reverse video: a marker is not text the user typed
NOTHING_SENT = "! Nothing sent: type the server password, or Ctrl-D to leave."


def raw_attrs(attrs: Attrs) -> Attrs:
    """Modes for key-at-a-time input: no echo, no line buffering, no signal keys, no
    flow control (Ctrl-S must not freeze the chat). Output processing stays on."""
    iflag, oflag, cflag, lflag, ispeed, ospeed, cc = attrs
    assert isinstance(iflag, int) and isinstance(lflag, int) and isinstance(cc, list)
    iflag &= ~(termios.BRKINT | termios.ICRNL | termios.INPCK | termios.ISTRIP | termios.IXON)
    lflag &= ~(termios.ECHO | termios.ICANON | termios.IEXTEN | termios.ISIG)
    cc = list(cc)
    cc[termios.VMIN], cc[termios.VTIME] = 1, 0
    return [iflag, oflag, cflag, lflag, ispeed, ospeed, cc]


@contextmanager
def raw_terminal(fd: int) -> Iterator[Attrs]:
    """Put the terminal on `fd` in raw mode; restore its saved modes however we leave."""
    saved: Attrs = termios.tcgetattr(fd)
    try:
        termios.tcsetattr(fd, termios.TCSADRAIN, raw_attrs(saved))
        yield saved
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def terminal_width(stream: TextIO) -> int:
    """Columns of the terminal `stream` writes to (80 when it cannot tell)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except OSError:  # not a terminal (io.UnsupportedOperation is an OSError too)
        return 80


class Screen:
    """Scrolling output above, the editable input line below, cursor where it belongs."""

    def __init__(
        self,
        out: TextIO,
        *,
        color: bool,
        bell: bool,
        columns: Callable[[], int] | None = None,
    ) -> None:
        self.out = out
        self.editor = LineEditor()
        self.prompt = "> "
        self.color = color
        self.bell = bell
        self._columns = columns or (lambda: terminal_width(out))
        self.width = self._columns()
        self._offset = 0
        self._drawn: InputView | None = None  # the input line now on screen

    def _view(self) -> InputView:
        if self.editor.secret:  # a password: nothing of it, not even its length (as ssh)
            return layout(self.prompt, "", 0, self.width, 0)
        view = layout(self.prompt, self.editor.buffer, self.editor.cursor, self.width, self._offset)
        self._offset = view.offset
        return view

    def _style(self) -> tuple[str, str]:
        """SGR styles of the prompt and of the `<` `>` markers."""
        return (_PROMPT_STYLE, _MARKER_STYLE) if self.color else ("", "")

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def _draw(self, paint: Callable[[InputView], str]) -> None:
        """Write `paint(view)` for the current input line. The width is read on every
        draw, so a line printed before SIGWINCH is handled already fits the new width;
        a width change first erases the old line, which the terminal may have reflowed
        onto several rows."""
        width = self._columns()
        erase = ""
        if width != self.width:
            self.width = width
            erase = erase_reflowed(self._drawn, width) if self._drawn else ""
        view = self._view()
        self._write(erase + paint(view))
        self._drawn = view

    def refresh(self) -> None:
        """Redraw the input line (after an edit, a new prompt or a resize)."""
        self._draw(lambda view: redraw(view, *self._style()))

    def show(self, line: str, *, ring: bool = False) -> None:
        """Print `line` (already styled) above the input line, which stays intact."""
        bell = "\a" if ring and self.bell else ""
        self._draw(lambda view: bell + print_above(line, view, *self._style()))

    def set_prompt(self, prompt: str, *, secret: bool = False) -> None:
        """Show a new prompt before the input (the input itself is kept); with `secret`,
        what is typed after it is not shown."""
        if prompt != self.prompt or secret != self.editor.secret:
            self.prompt, self.editor.secret = prompt, secret
            self.refresh()

    def echo(self, prompt: str, text: str) -> None:
        """Leave a submitted answer on screen, as a terminal would: `prompt` + `text`."""
        styled = f"\x1b[{_PROMPT_STYLE}m{prompt}\x1b[0m" if self.color else prompt
        self.show(styled + text)

    def resize(self) -> None:
        """SIGWINCH: redraw at the new width (`_draw` reads it)."""
        self.refresh()

    def clear_screen(self) -> None:
        """Ctrl-L: clear the screen, then redraw the input line at the top."""
        self._write(_CLEAR_SCREEN)
        self._drawn = None
        self.refresh()

    def close(self) -> None:
        """Erase the input line before the program's last words."""
        self._write("\r\x1b[K")
        self._drawn = None


def suspend(fd: int, saved: Attrs, screen: Screen) -> None:
    """Ctrl-Z: give the shell back its terminal, stop, and take the terminal back."""
    screen.close()
    termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    try:
        os.kill(os.getpid(), signal.SIGTSTP)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, raw_attrs(saved))
        screen.resize()


class Keyboard:
    """The keyboard task: keys from the terminal to the editor, lines to the server."""

    def __init__(
        self, client: Client, screen: Screen, fd: int, saved: Attrs, max_line_bytes: int
    ) -> None:
        self.client = client
        self.screen = screen
        self.fd = fd
        self.saved = saved
        self.max_line_bytes = max_line_bytes
        self.queue: asyncio.Queue[str | Outcome] = asyncio.Queue()
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, 4096)
        except OSError:
            data = b""
        text = self._decoder.decode(data)
        self.queue.put_nowait(text if data else Outcome(EXIT_ERROR, "Terminal closed."))

    def _signalled(self, signum: int) -> None:
        self.queue.put_nowait(Outcome(128 + signum, "Terminated."))

    async def run(self) -> Outcome:
        """Read keys until the user quits (Ctrl-D on an empty line, Ctrl-C) or a signal."""
        loop = asyncio.get_running_loop()
        loop.add_reader(self.fd, self._readable)
        loop.add_signal_handler(signal.SIGWINCH, self.screen.resize)
        loop.add_signal_handler(signal.SIGCONT, self._continued)
        for signum in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, self._signalled, signum)
        try:
            return await self._loop()
        finally:
            loop.remove_reader(self.fd)
            for signum in (signal.SIGWINCH, signal.SIGCONT, signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(signum)

    def _continued(self) -> None:
        """Back from a stop (Ctrl-Z, or `kill -STOP` and `fg`): raw mode again, redraw."""
        termios.tcsetattr(self.fd, termios.TCSADRAIN, raw_attrs(self.saved))
        self.screen.resize()

    async def _loop(self) -> Outcome:
        unfinished = ""
        while True:
            item = await self.queue.get()
            if isinstance(item, Outcome):
                return item
            keys, unfinished = decode_keys(unfinished + item)
            for key in keys:
                outcome = await self.press(key)
                if outcome is not None:
                    return outcome
            self.screen.refresh()

    async def press(self, key: Key | str) -> Outcome | None:
        """Apply one key; an Outcome when it ends the session."""
        if key is Key.ENTER and (notice := self._refusal(self.screen.editor.buffer)):
            self.screen.show(render(notice, None, self.screen.color)[0])
            return None  # the line stays in the editor, to be sent later or shortened
        result = self.screen.editor.press(key)
        if result is None:
            return None
        action, text = result
        if action is Action.SUBMIT:
            await self.submit(text)
        elif action is Action.QUIT:
            return Outcome(EXIT_OK, "Disconnected.")
        elif action is Action.INTERRUPT:
            return Outcome(EXIT_INTERRUPTED, "Interrupted.")
        elif action is Action.SUSPEND:
            suspend(self.fd, self.saved, self.screen)
        elif action is Action.CLEAR:
            self.screen.clear_screen()
        return None

    def _refusal(self, text: str) -> str | None:
        """Why the line in the editor cannot be sent now (it is kept), or None."""
        if not text.strip():
            return None
        if not self.client.ready():
            if self.client.link is not None:  # the server's answer to the last line first
                return "! Waiting for the server; the line is kept (Enter sends it then)."
            return "! Not connected; the line is kept (Enter sends it once reconnected)."
        return line_too_long(text, self.max_line_bytes)

    async def submit(self, text: str) -> None:
        """Send a finished line; outside a room it stays on screen after its prompt.
        An empty line is sent only as the answer to a prompt: the way back from it."""
        conversation = self.client.conversation
        if not text.strip() and not conversation.sends_empty_line():
            if conversation.server_prompt is not None:  # the server password
                self.screen.show(render(NOTHING_SENT, None, self.screen.color)[0])
            return
        if conversation.secret_input():  # the prompt stays, as with sudo; the answer never
            self.screen.echo(conversation.prompt(), "")
        elif conversation.echoes_input():  # a command's password never stays on screen
            self.screen.echo(conversation.prompt(), without_secret(text) or text)
        conversation.submit(text)
        self.screen.set_prompt(conversation.prompt(), secret=conversation.secret_input())
        await self.client.send(text)


def show_server_line(client: Client, screen: Screen, line: str) -> None:
    """A server line on screen: prompts become the input prompt, the rest print above,
    except the reclaim code (a secret) and what the conversation holds back (a refusal
    it expects, replayed lines already shown); its reply is sent and shown."""
    conversation = client.conversation
    lines, reply = conversation.receive(line)
    for shown in lines:
        if not is_prompt(shown) and not RECLAIM_CODE.match(shown):
            text, ring = render(shown, conversation.me, screen.color)
            screen.show(text, ring=ring)
    if reply is not None:
        if reply.send is not None:
            client.send_nowait(reply.send)
        if reply.prompt is not None and reply.echo is not None:
            screen.echo(reply.prompt + " ", reply.echo)
        if reply.notice is not None:
            screen.show(render(reply.notice, None, screen.color)[0])
    screen.set_prompt(conversation.prompt(), secret=conversation.secret_input())


async def run_terminal(
    client: Client,
    stdin: TextIO,
    stdout: TextIO,
    *,
    color: bool,
    bell: bool,
    max_line_bytes: int,
) -> Outcome:
    """The interactive client; the terminal's modes are restored on every way out."""
    screen = Screen(stdout, color=color, bell=bell)
    screen.editor.names = client.conversation.room_names
    client.notify = lambda notice: screen.show(render(notice, None, color)[0])
    fd = stdin.fileno()
    with raw_terminal(fd) as saved:
        try:
            screen.refresh()
            keyboard = Keyboard(client, screen, fd, saved, max_line_bytes)
            return await first_to_finish(
                keyboard.run(), client.run(lambda line: show_server_line(client, screen, line))
            )
        finally:
            screen.close()
