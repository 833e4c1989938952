"""A tiny virtual terminal for the client's tests, and tests that it models one.

`VirtualScreen` understands what the client writes (printable text with wide
characters, CR, LF, BS, BEL, CSI cursor moves, erase in line and display, SGR) and
shows the screen a person would see. `resize` reflows soft-wrapped lines the way
VTE, kitty, tmux and most terminals do (xterm does not). Other test files import it
from here.
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
        self.wrapped = [False] * height  # row i continues row i - 1 (a soft wrap)
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
            self.wrapped = [*self.wrapped[1:], False]
        else:
            self.row += 1

    def _put(self, char: str) -> None:
        width = char_width(char)
        if width == 0:
            return
        if self.col + width > self.width:
            self.col = 0
            self._line_feed()
            self.wrapped[self.row] = True
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
        elif final == "J" and n == 0:
            self.cells[self.row][self.col :] = [" "] * (self.width - self.col)
            for row in range(self.row + 1, self.height):
                self.cells[row], self.wrapped[row] = [" "] * self.width, False
        elif final == "J" and n == 2:
            self.cells = [[" "] * self.width for _ in range(self.height)]
            self.wrapped = [False] * self.height
        elif final == "H":
            self.row = self.col = 0

    def resize(self, width: int, height: int) -> None:
        """Change the size as a reflowing terminal does: each logical line (rows joined
        by soft wraps) is wrapped again at the new width, the cursor keeps its place in
        its line, and rows that no longer fit above scroll off the top."""
        lines, cursor = self._logical_lines()
        rows: list[list[str]] = []
        wrapped: list[bool] = []
        for index, cells in enumerate(lines):
            at = cursor[1] if index == cursor[0] else -1
            new, spot = _wrap(cells, width, at)
            if spot is not None:
                self.row, self.col = len(rows) + spot[0], spot[1]
            rows += new
            wrapped += [False] + [True] * (len(new) - 1)
        drop = max(len(rows) - height, 0)
        self.scrolled += [self._text(cells) for cells in rows[:drop]]
        pad = height - len(rows) + drop
        self.cells = rows[drop:] + [[" "] * width for _ in range(pad)]
        self.wrapped = wrapped[drop:] + [False] * pad
        self.width, self.height, self.row = width, height, self.row - drop

    def _logical_lines(self) -> tuple[list[list[str]], tuple[int, int]]:
        """Rows joined at soft wraps (trailing blanks cut), and the cursor's (line, offset)."""
        last = max([self.row, *(r for r, cells in enumerate(self.cells) if self._text(cells))])
        lines: list[list[str]] = []
        cursor = (0, 0)
        for row in range(last + 1):
            if row and self.wrapped[row]:
                lines[-1] += self.cells[row]
            else:
                lines.append(list(self.cells[row]))
            if row == self.row:
                cursor = (len(lines) - 1, len(lines[-1]) - self.width + self.col)
        for cells in lines:
            while cells and cells[-1] == " ":
                cells.pop()
        return lines, cursor

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


def _wrap(
    cells: list[str], width: int, cursor: int
) -> tuple[list[list[str]], tuple[int, int] | None]:
    """One logical line's cells in rows of `width`; where cell index `cursor` lands."""
    rows, col, spot = [[" "] * width], 0, None
    for i in range(max(len(cells), cursor + 1)):
        cell = cells[i] if i < len(cells) else " "
        if cell == "":  # the right half of a wide character, placed with it
            continue
        size = 2 if i + 1 < len(cells) and cells[i + 1] == "" else 1
        if col + size > width:
            rows.append([" "] * width)
            col = 0
        if i == cursor:
            spot = (len(rows) - 1, col)
            if i >= len(cells):
                break
        rows[-1][col] = cell
        if size == 2:
            rows[-1][col + 1] = ""
        col += size
    return rows, spot


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


def test_narrowing_reflows_a_long_line_and_the_cursor_goes_with_it() -> None:
    screen = VirtualScreen(width=10, height=4)
    screen.feed("zero\r\nfirst\r\n0123456789abcdefg")
    screen.resize(6, 4)
    assert screen.lines() == ["first", "012345", "6789ab", "cdefg"]
    assert screen.scrolled == ["zero"]
    assert (screen.row, screen.col) == (3, 5)


def test_a_line_narrower_than_the_new_width_stays_one_row() -> None:
    screen = VirtualScreen(width=10, height=3)
    screen.feed("abc\r\nxy\r\x1b[1C")
    screen.resize(5, 2)
    assert (screen.lines(), screen.row, screen.col) == (["abc", "xy"], 1, 1)


def test_erasing_below_ends_the_soft_wrap_of_the_rows_erased() -> None:
    screen = VirtualScreen(width=4, height=3)
    screen.feed("abcdef\r\x1b[1A\x1b[Jxy")
    screen.resize(2, 3)
    assert screen.lines() == ["xy"]


def test_a_wide_character_that_no_longer_fits_moves_whole_to_the_next_row() -> None:
    screen = VirtualScreen(width=6, height=2)
    screen.feed("ab漢")
    screen.resize(3, 2)
    assert (screen.lines(), screen.row, screen.col) == (["ab", "漢"], 1, 2)
