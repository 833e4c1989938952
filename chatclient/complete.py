"""Tab completion for the input line: slash commands at the start of the line, names
of the users in the room anywhere else.

Pure: candidates come in as arguments (`Conversation.room_names()` knows who is in
the room). No terminal, no asyncio here.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# The server's slash commands (its /help lists them).
COMMANDS = (
    "/help",
    "/rooms",
    "/create",
    "/join",
    "/leave",
    "/who",
    "/msg",
    "/me",
    "/nick",
    "/quit",
    "/topic",
    "/away",
    "/whois",
    "/users",
    "/history",
)


def fold(text: str) -> str:
    """`text` for matching: compatibility forms split (NFKD), combining marks dropped,
    case folded. `Zoë`, `ZOE` and fullwidth `zoe` all fold to `zoe`."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def word_start(buffer: str, cursor: int) -> int:
    """Where the word that ends at `cursor` begins (after the last space before it)."""
    start = cursor
    while start > 0 and not buffer[start - 1].isspace():
        start -= 1
    return start


def candidates(buffer: str, start: int, word: str, names: Iterable[str]) -> list[str]:
    """What `word` (at `start` in `buffer`) may complete to, sorted, without repeats:
    a command when it is the line's first word and starts with `/`, else a name."""
    pool: Iterable[str] = COMMANDS if start == 0 and word.startswith("/") else names
    prefix = fold(word)
    found = {fold(c): c for c in pool if fold(c).startswith(prefix)}
    return [found[key] for key in sorted(found)]


@dataclass(frozen=True, slots=True)
class Completion:
    """A Tab cycle in progress: `candidates[index]` fills `length` characters from `start`."""

    start: int
    length: int
    candidates: tuple[str, ...]
    index: int


def complete(
    buffer: str, cursor: int, names: Iterable[str], cycle: Completion | None, step: int = 1
) -> tuple[str, int, Completion] | None:
    """One Tab (`step` 1) or Shift-Tab (-1): the new buffer, cursor and cycle, or None
    when nothing matches. `cycle` is the previous Tab's, when nothing else came between.

    The first Tab puts in the first candidate and a space after it; each further one
    replaces it by the next candidate, round and round.
    """
    if cycle is None:
        start = word_start(buffer, cursor)
        found = candidates(buffer, start, buffer[start:cursor], names)
        if not found:
            return None
        index = 0 if step > 0 else len(found) - 1
        cycle = Completion(start, cursor - start, tuple(found), index)
    else:
        index = (cycle.index + step) % len(cycle.candidates)
        cycle = Completion(cycle.start, cycle.length, cycle.candidates, index)
    after = buffer[cycle.start + cycle.length :]
    text = cycle.candidates[cycle.index] + ("" if after[:1].isspace() else " ")
    buffer = buffer[: cycle.start] + text + after
    cursor = cycle.start + len(text)
    return buffer, cursor, Completion(cycle.start, len(text), cycle.candidates, cycle.index)
