"""A tiny virtual terminal for the client's tests, and tests that it models one.

`VirtualScreen` understands what the client writes (printable text with wide
characters, CR, LF, BS, BEL, CSI cursor moves, erase in line and display, SGR) and
shows the screen a person would see. Other test files import it from here.
"""

from __future__ import annotations

import re

import pytest

from chatclient.editor import char_width

_CSI = re.compile(r"\x1b\[([0-?]*)([ -/]*)([@-~])")


class VirtualScreen:
    """Rows of cells and a cursor; a wide character fills its cell and an empty one."""

    def __init__(self, width: int = 80, height: int = 24) -> None:
        self.width, self.height = width, height
        self.cells = [[" "] * width for _ in range(height)]
        self.row = self.col = 0
        self.bells = 0
        self.scrolled: list[str] = []

    def feed(self, text: str) -> None:
        """Interpret `text` as a terminal would."""
        i = 0
        while i < len(text):
            char = text[i]
            if char == "\x1b":
                match = _CSI.match(text, i)
                if match:
                    self._csi(match[1], match[3])
                    i = match.end()
                else:
                    i += 2
                continue
            self._control(char) if ord(char) < 0x20 else self._put(char)
            i += 1

    def _control(self, char: str) -> None:
        if char == "\r":
            self.col = 0
        elif char == "\n":
            self._line_feed()
        elif char == "\b":
            self.col = max(self.col - 1, 0)
        elif char == "\a":
            self.bells += 1

    def _line_feed(self) -> None:
        if self.row == self.height - 1:
            self.scrolled.append(self._text(self.cells.pop(0)))
            self.cells.append([" "] * self.width)
        else:
            self.row += 1

    def _put(self, char: str) -> None:
        width = char_width(char)
        if width == 0:
            return
        if self.col + width > self.width:
            self.col = 0
            self._line_feed()
        self.cells[self.row][self.col] = char
        if width == 2:
            self.cells[self.row][self.col + 1] = ""
        self.col += width

    def _csi(self, params: str, final: str) -> None:
        n = int(params.split(";")[0] or 0)
        if final == "C":
            self.col = min(self.col + max(n, 1), self.width - 1)
        elif final == "D":
            self.col = max(self.col - max(n, 1), 0)
        elif final == "A":
            self.row = max(self.row - max(n, 1), 0)
        elif final == "B":
            self.row = min(self.row + max(n, 1), self.height - 1)
        elif final == "K" and n == 0:
            self.cells[self.row][self.col :] = [" "] * (self.width - self.col)
        elif final == "J" and n == 2:
            self.cells = [[" "] * self.width for _ in range(self.height)]
        elif final == "H":
            self.row = self.col = 0

    @staticmethod
    def _text(cells: list[str]) -> str:
        return "".join(cells).rstrip()

    def lines(self) -> list[str]:
        """The screen's rows as text, trailing blanks and blank rows at the end dropped."""
        rows = [self._text(cells) for cells in self.cells]
        while rows and not rows[-1]:
            rows.pop()
        return rows

    def cursor_line(self) -> str:
        """The text of the row the cursor is on."""
        return self._text(self.cells[self.row])


def test_text_wraps_at_the_right_edge_and_scrolls_at_the_bottom() -> None:
    screen = VirtualScreen(width=4, height=2)
    screen.feed("abcdef\r\nxy")
    assert screen.scrolled == ["abcd"]
    assert screen.lines() == ["ef", "xy"]


def test_a_wide_character_takes_two_cells() -> None:
    screen = VirtualScreen(width=10, height=2)
    screen.feed("a漢b")
    assert (screen.lines(), screen.col) == (["a漢b"], 4)


def test_erase_in_line_and_cursor_moves_behave_like_a_terminal() -> None:
    screen = VirtualScreen(width=10, height=2)
    screen.feed("hello\r\x1b[2Cy\x1b[K\x1b[31m\x1b[0m\x1b[3D")
    assert (screen.lines(), screen.col) == (["hey"], 0)


@pytest.mark.parametrize("bell", ["\a", "\x07"])
def test_a_bell_is_counted_not_shown(bell: str) -> None:
    screen = VirtualScreen()
    screen.feed(f"x{bell}y")
    assert (screen.lines(), screen.bells) == (["xy"], 1)
