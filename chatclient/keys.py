"""Terminal input to keys: the bytes an xterm-like terminal sends, as editing keys.

Pure: `decode_keys` takes decoded text and returns keys plus any unfinished escape
sequence to prepend to the next read. No terminal, no asyncio here.
"""

from __future__ import annotations

import enum


class Key(enum.Enum):
    """An editing key; text to insert is passed as a plain `str` instead."""

    ENTER = enum.auto()
    LEFT = enum.auto()
    RIGHT = enum.auto()
    WORD_LEFT = enum.auto()
    WORD_RIGHT = enum.auto()
    HOME = enum.auto()
    END = enum.auto()
    UP = enum.auto()
    DOWN = enum.auto()
    BACKSPACE = enum.auto()
    DELETE = enum.auto()
    KILL_START = enum.auto()  # Ctrl-U
    KILL_END = enum.auto()  # Ctrl-K
    KILL_WORD = enum.auto()  # Ctrl-W, Alt-Backspace
    EOF = enum.auto()  # Ctrl-D: delete, or quit on an empty line
    INTERRUPT = enum.auto()  # Ctrl-C
    SUSPEND = enum.auto()  # Ctrl-Z
    CLEAR = enum.auto()  # Ctrl-L
    TAB = enum.auto()  # complete a command or a name
    BACK_TAB = enum.auto()  # Shift-Tab: the previous completion


_CONTROL_KEYS = {
    "\x01": Key.HOME,
    "\x02": Key.LEFT,
    "\x03": Key.INTERRUPT,
    "\x04": Key.EOF,
    "\x05": Key.END,
    "\x06": Key.RIGHT,
    "\x08": Key.BACKSPACE,
    "\t": Key.TAB,
    "\x0b": Key.KILL_END,
    "\x0c": Key.CLEAR,
    "\r": Key.ENTER,
    "\n": Key.ENTER,
    "\x0e": Key.DOWN,
    "\x10": Key.UP,
    "\x15": Key.KILL_START,
    "\x17": Key.KILL_WORD,
    "\x1a": Key.SUSPEND,
    "\x7f": Key.BACKSPACE,
}
_CSI_FINAL_KEYS = {
    "A": Key.UP,
    "B": Key.DOWN,
    "C": Key.RIGHT,
    "D": Key.LEFT,
    "H": Key.HOME,
    "F": Key.END,
    "Z": Key.BACK_TAB,
}
_CSI_TILDE_KEYS = {"1": Key.HOME, "7": Key.HOME, "4": Key.END, "8": Key.END, "3": Key.DELETE}
_ALT_KEYS = {"b": Key.WORD_LEFT, "f": Key.WORD_RIGHT, "\x7f": Key.KILL_WORD, "\x08": Key.KILL_WORD}
_MODIFIED = {Key.LEFT: Key.WORD_LEFT, Key.RIGHT: Key.WORD_RIGHT}


def _escape_key(seq: str) -> Key | None:
    """The key for one complete escape sequence, or None for one we ignore."""
    if seq[1:2] == "O":
        return _CSI_FINAL_KEYS.get(seq[2:])
    if seq[1:2] != "[":
        return _ALT_KEYS.get(seq[1:])
    params, final = seq[2:-1], seq[-1]
    if final == "~":
        return _CSI_TILDE_KEYS.get(params.split(";")[0])
    key = _CSI_FINAL_KEYS.get(final)
    if key is not None and params.endswith(("5", "3")):  # Ctrl- or Alt-arrow
        return _MODIFIED.get(key, key)
    return key


def _escape_length(text: str, start: int) -> int | None:
    """Length of the escape sequence at `start`, or None if it is not complete yet."""
    if start + 1 >= len(text):
        return None
    if text[start + 1] == "O":
        return 3 if start + 2 < len(text) else None
    if text[start + 1] != "[":
        return 2
    for end in range(start + 2, len(text)):
        if "@" <= text[end] <= "~":
            return end - start + 1
    return None


def decode_keys(text: str) -> tuple[list[Key | str], str]:
    """Keys typed in `text`, and an unfinished escape sequence left over for next time.

    Runs of printable characters come back as one `str`; `\\r\\n` is one Enter; other
    control characters and unknown sequences are dropped.
    """
    keys: list[Key | str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\x1b":
            length = _escape_length(text, i)
            if length is None:
                return keys, text[i:]
            key = _escape_key(text[i : i + length])
            if key is not None:
                keys.append(key)
            i += length
        elif char in _CONTROL_KEYS:
            keys.append(_CONTROL_KEYS[char])
            i += 2 if text.startswith("\r\n", i) else 1
        elif char.isprintable():
            end = i + 1
            while end < len(text) and text[end].isprintable():
                end += 1
            keys.append(text[i:end])
            i = end
        else:
            i += 1
    return keys, ""
