"""The client's line editor: keys (`chatclient.keys`) to a buffer and cursor, and the
buffer to the exact escape string that redraws the input line.

Pure and synchronous: no terminal, no file descriptors, no asyncio here. Columns
follow `unicodedata.east_asian_width` (wide and fullwidth characters take two,
combining marks none); an input line wider than the terminal scrolls sideways.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from chatclient.complete import Completion, complete
from chatclient.keys import Key
from chatclient.render import without_secret

MIN_INPUT_COLUMNS = 8


def char_width(char: str) -> int:
    """Terminal columns for one code point: 2 wide/fullwidth, 0 combining or format."""
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def text_width(text: str) -> int:
    """Terminal columns for `text` (no control characters in it)."""
    return sum(char_width(c) for c in text)


def _next_cell(text: str, i: int) -> int:
    """Index just past the character at `i` and the zero-width ones that follow it."""
    i += 1
    while i < len(text) and char_width(text[i]) == 0:
        i += 1
    return i


def _previous_cell(text: str, i: int) -> int:
    """Index of the character before `i`, skipping back over zero-width ones."""
    i -= 1
    while i > 0 and char_width(text[i]) == 0:
        i -= 1
    return max(i, 0)


def _word_start(text: str, i: int) -> int:
    while i > 0 and text[i - 1].isspace():
        i -= 1
    while i > 0 and not text[i - 1].isspace():
        i -= 1
    return i


def _word_end(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    while i < len(text) and not text[i].isspace():
        i += 1
    return i


class Action(enum.Enum):
    """What a key asks of the program beyond changing the buffer."""

    SUBMIT = enum.auto()
    QUIT = enum.auto()
    INTERRUPT = enum.auto()
    SUSPEND = enum.auto()
    CLEAR = enum.auto()


@dataclass
class LineEditor:
    """The input line: keys in, buffer and cursor (a code point index) out, with history.

    `names` gives the names Tab completes (the users in the room), asked at each Tab.
    A `secret` line (a password) is neither completed, nor recalled, nor remembered.
    """

    buffer: str = ""
    cursor: int = 0
    history: list[str] = field(default_factory=list)
    max_history: int = 500
    names: Callable[[], Iterable[str]] = lambda: ()
    secret: bool = False
    _recall: int = 0
    _draft: str = ""
    _cycle: Completion | None = None

    def press(self, key: Key | str) -> tuple[Action, str] | None:
        """Apply one key; return (action, submitted text) when the program must act."""
        if key is Key.TAB or key is Key.BACK_TAB:
            if not self.secret:
                self._complete(1 if key is Key.TAB else -1)
            return None
        if self.secret and key in (Key.UP, Key.DOWN):
            return None
        self._cycle = None  # any other key ends a Tab cycle
        if isinstance(key, str):
            self._insert(key)
            return None
        if key is Key.ENTER:
            return Action.SUBMIT, self.submit()
        if key is Key.EOF and not self.buffer:
            return Action.QUIT, ""
        simple = _SIMPLE_ACTIONS.get(key)
        if simple is not None:
            return simple, ""
        _EDITS[key](self)
        return None

    def submit(self) -> str:
        """Take the current line, remember it in history (unless it holds a password),
        and start a new empty one."""
        text = self.buffer
        fresh = not self.history or self.history[-1] != text
        if text.strip() and fresh and not self.secret and without_secret(text) is None:
            self.history = [*self.history, text][-self.max_history :]
        self.buffer, self.cursor = "", 0
        self._recall, self._draft = len(self.history), ""
        return text

    def _complete(self, step: int) -> None:
        done = complete(self.buffer, self.cursor, self.names(), self._cycle, step)
        if done is not None:
            self.buffer, self.cursor, self._cycle = done

    def _set(self, buffer: str, cursor: int) -> None:
        self.buffer, self.cursor = buffer, cursor

    def _insert(self, text: str) -> None:
        text = "".join(c for c in text if c.isprintable())
        b, c = self.buffer, self.cursor
        self._set(b[:c] + text + b[c:], c + len(text))

    def _backspace(self) -> None:
        start = _previous_cell(self.buffer, self.cursor)
        self._set(self.buffer[:start] + self.buffer[self.cursor :], start)

    def _delete(self) -> None:
        if self.cursor < len(self.buffer):
            end = _next_cell(self.buffer, self.cursor)
            self.buffer = self.buffer[: self.cursor] + self.buffer[end:]

    def _left(self) -> None:
        self.cursor = _previous_cell(self.buffer, self.cursor)

    def _right(self) -> None:
        if self.cursor < len(self.buffer):
            self.cursor = _next_cell(self.buffer, self.cursor)

    def _kill_word(self) -> None:
        start = _word_start(self.buffer, self.cursor)
        self._set(self.buffer[:start] + self.buffer[self.cursor :], start)

    def _recall_at(self, index: int) -> None:
        if not 0 <= index <= len(self.history):
            return
        if self._recall == len(self.history):
            self._draft = self.buffer
        self._recall = index
        text = self.history[index] if index < len(self.history) else self._draft
        self._set(text, len(text))


_SIMPLE_ACTIONS = {
    Key.INTERRUPT: Action.INTERRUPT,
    Key.SUSPEND: Action.SUSPEND,
    Key.CLEAR: Action.CLEAR,
}
_EDITS: dict[Key, Callable[[LineEditor], None]] = {
    Key.LEFT: LineEditor._left,
    Key.RIGHT: LineEditor._right,
    Key.WORD_LEFT: lambda e: setattr(e, "cursor", _word_start(e.buffer, e.cursor)),
    Key.WORD_RIGHT: lambda e: setattr(e, "cursor", _word_end(e.buffer, e.cursor)),
    Key.HOME: lambda e: setattr(e, "cursor", 0),
    Key.END: lambda e: setattr(e, "cursor", len(e.buffer)),
    Key.UP: lambda e: e._recall_at(e._recall - 1),
    Key.DOWN: lambda e: e._recall_at(e._recall + 1),
    Key.BACKSPACE: LineEditor._backspace,
    Key.DELETE: LineEditor._delete,
    Key.EOF: LineEditor._delete,
    Key.KILL_START: lambda e: e._set(e.buffer[e.cursor :], 0),
    Key.KILL_END: lambda e: e._set(e.buffer[: e.cursor], e.cursor),
    Key.KILL_WORD: LineEditor._kill_word,
}


@dataclass(frozen=True, slots=True)
class InputView:
    """What the input line shows: `offset` is the first buffer index on screen; `left`
    and `right` mark text hidden past an edge (`<`, and `>` padded to the edge)."""

    prompt: str
    shown: str
    cursor_column: int
    offset: int
    left: str = ""
    right: str = ""


def _fit_prompt(prompt: str, width: int) -> str:
    """The prompt, cut from the left if it would leave the input too few columns."""
    widest = width - 1 - max(MIN_INPUT_COLUMNS, width // 4)
    while prompt and text_width(prompt) > widest:
        prompt = prompt[1:]
    return prompt


def _leftmost_fitting(text: str, end: int, room: int) -> int:
    """The smallest character start `i` with `text[i:end]` narrower than `room`."""
    start, used = end, 0
    while start > 0:
        previous = _previous_cell(text, start)
        used += text_width(text[previous:start])
        if used >= room:
            break
        start = previous
    return start


def _cells_fitting(text: str, start: int, room: int) -> int:
    """The end of the longest run of whole cells from `start` at most `room` wide."""
    end, used = start, 0
    while end < len(text):
        after = _next_cell(text, end)
        used += text_width(text[end:after])
        if used > room:
            break
        end = after
    return end


def layout(prompt: str, buffer: str, cursor: int, width: int, offset: int = 0) -> InputView:
    """The visible input line for a terminal `width` columns wide.

    The last column is never written (no pending-wrap state). A line too wide scrolls
    sideways: `offset` (from the previous layout) moves only as far as it must to
    keep the cursor's character on screen, and back once the line fits again. Text
    hidden to the left is marked by `<`, text hidden to the right by `>` at the edge;
    a marker takes the column of what it hides, never the cursor's.
    """
    prompt = _fit_prompt(prompt, width)
    start = text_width(prompt)
    room = max(width - 1 - start, 1)
    cursor_end = _next_cell(buffer, cursor) if cursor < len(buffer) else cursor
    if text_width(buffer) < room or room < 4:  # fits, or too narrow for markers
        whole_tail = _leftmost_fitting(buffer, len(buffer), room)
        # The cursor's character on screen, or the blank after the end.
        if cursor < len(buffer):
            need = min(_leftmost_fitting(buffer, cursor_end, room + 1), cursor)
        else:
            need = _leftmost_fitting(buffer, cursor, room)
        offset = max(need, min(offset, cursor, whole_tail))
        end = _cells_fitting(buffer, offset, room)
        column = start + text_width(buffer[offset:cursor])
        return InputView(prompt, buffer[offset:end], column, offset)
    # Keep the cursor's cell (its character, or a blank after the end) within room - 2
    # columns, so that it is never under a marker.
    tail = _leftmost_fitting(buffer, len(buffer), room - 1)
    offset = max(_leftmost_fitting(buffer, cursor_end, room - 1), min(offset, cursor, tail))
    left = "<" if offset else ""
    end = _cells_fitting(buffer, offset, room - len(left))
    right = ""
    if end < len(buffer):
        end = _cells_fitting(buffer, offset, room - len(left) - 1)
        used = text_width(buffer[offset:end])
        right = " " * (room - len(left) - 1 - used) + ">"
    column = start + len(left) + text_width(buffer[offset:cursor])
    return InputView(prompt, buffer[offset:end], column, offset, left, right)


def redraw(view: InputView, prompt_style: str = "", marker_style: str = "") -> str:
    """The escape string that repaints the input line and puts the cursor in place.

    `prompt_style` and `marker_style` are SGR parameter strings for the prompt and the
    `<` `>` markers (empty: plain).
    """
    prompt = f"\x1b[{prompt_style}m{view.prompt}\x1b[0m" if prompt_style else view.prompt
    left, right = view.left, view.right.lstrip()
    if marker_style:
        left = f"\x1b[{marker_style}m{left}\x1b[0m" if left else ""
        right = f"\x1b[{marker_style}m{right}\x1b[0m" if right else ""
    pad = " " * (len(view.right) - len(view.right.lstrip()))
    move = f"\x1b[{view.cursor_column}C" if view.cursor_column else ""
    return f"\r{prompt}{left}{view.shown}{pad}{right}\x1b[K\r{move}"


def rows_above_cursor(view: InputView, width: int) -> int:
    """Rows between the top of a drawn input line and the cursor once the terminal,
    narrowed to `width` columns, has reflowed the line (its cursor moves with it)."""
    row = column = cells = 0
    for char in view.prompt + view.left + view.shown + view.right:
        size = char_width(char)
        if size and column + size > width:  # a wide character moves whole to the next row
            row, column = row + 1, 0
        if size and cells >= view.cursor_column:  # the cursor's character
            return row
        column, cells = column + size, cells + size
    return row + 1 if column >= width else row  # the cursor is after the end


def erase_reflowed(view: InputView, width: int) -> str:
    """The escape string that erases `view`, drawn at an older width, after a resize
    to `width`: a narrower terminal wraps the old line onto several rows."""
    up = rows_above_cursor(view, width)
    return "\r" + (f"\x1b[{up}A" if up else "") + "\x1b[J"


def print_above(line: str, view: InputView, prompt_style: str = "", marker_style: str = "") -> str:
    """The escape string that shows `line` above the input line, then redraws it."""
    return f"\r\x1b[K{line}\r\n{redraw(view, prompt_style, marker_style)}"
