"""Tab completion: commands and room members, matched without case or accents, and
cycled; the members followed from the server's lines."""

from __future__ import annotations

import pytest

from chatclient.complete import COMMANDS, fold
from chatclient.conversation import Conversation
from chatclient.editor import LineEditor
from chatclient.keys import Key, decode_keys

pytestmark = pytest.mark.timeout(10)

ROOM = ["alice", "Zoë", "zack", "Bob"]


def typed(text: str, names: list[str] = ROOM) -> LineEditor:
    editor = LineEditor(names=lambda: names)
    keys, _ = decode_keys(text)
    for key in keys:
        editor.press(key)
    return editor


def test_tab_and_shift_tab_are_keys() -> None:
    assert decode_keys("a\tb\x1b[Z") == (["a", Key.TAB, "b", Key.BACK_TAB], "")


def test_folding_ignores_case_accents_and_compatibility_forms() -> None:
    assert fold("Zoë") == fold("ZOE") == fold("\uff5a\uff4f\uff45") == "zoe"


def test_a_command_completes_with_a_space_after_it() -> None:
    editor = typed("/he\t")
    assert (editor.buffer, editor.cursor) == ("/help ", 6)


def test_every_command_of_the_server_completes() -> None:
    assert {typed(c[:-1] + "\t").buffer for c in COMMANDS} >= {c + " " for c in COMMANDS}


def test_a_name_after_msg_completes_whatever_the_accents() -> None:
    assert typed("/msg Zo\t").buffer == "/msg Zoë "
    assert typed("/msg zoe\t").buffer == "/msg Zoë "


def test_repeated_tab_cycles_among_the_candidates_and_shift_tab_goes_back() -> None:
    assert typed("/msg z\t").buffer == "/msg zack "
    assert typed("/msg z\t\t").buffer == "/msg Zoë "
    assert typed("/msg z\t\t\t").buffer == "/msg zack "
    assert typed("/msg z\t\t\x1b[Z").buffer == "/msg zack "
    assert typed("/msg z\x1b[Z").buffer == "/msg Zoë "


def test_commands_cycle_too() -> None:
    assert [typed("/w" + "\t" * n).buffer for n in (1, 2, 3)] == ["/who ", "/whois ", "/who "]


def test_a_name_completes_anywhere_in_a_chat_line_and_keeps_what_follows() -> None:
    editor = typed("hi b and more\x01\x1b[C\x1b[C\x1b[C\x1b[C\t")
    assert (editor.buffer, editor.cursor) == ("hi Bob and more", 6)


def test_a_slash_word_after_the_start_is_not_a_command() -> None:
    assert typed("say /he\t").buffer == "say /he"


def test_no_match_changes_nothing_and_typing_ends_the_cycle() -> None:
    assert typed("/msg q\t").buffer == "/msg q"
    assert typed("/msg z\tx\t").buffer == "/msg zack x"


def test_the_room_is_followed_from_the_users_line_and_the_notices() -> None:
    talk = Conversation()
    for line in [
        "* Hello, carol!",
        "Joined room [café]. Type 'exit' to leave, /help for commands.",
        "* Users in café: carol, dave, Zoë",
        "* erin has joined café",
        "* dave has left café",
        "* Zoë is now known as Zoe2",
        "* frank has joined café",
        "* frank has quit (connection reset)",
        "* gina has joined café",
        "* gina has quit",
    ]:
        talk.observe(line)
    assert sorted(talk.room_names()) == ["Zoe2", "erin"]
    talk.observe("--- Chat Menu ---")
    assert talk.room_names() == []


def test_my_own_name_is_not_offered() -> None:
    talk = Conversation()
    talk.observe("* Hello, Carol!")
    talk.observe("* Users in den: carol, dave")
    assert talk.room_names() == ["dave"]


def test_operator_marks_and_kicks_are_followed_too() -> None:
    talk = Conversation()
    for line in [
        "* Hello, carol!",
        "Joined room [den]. Type 'exit' to leave, /help for commands.",
        "* Users in den: @alice, +bob, carol, dave",
        "* dave was kicked from den by alice (spam)",
        "* erin has joined den",
        "* erin was kicked from den by alice",
    ]:
        talk.observe(line)
    assert sorted(talk.room_names()) == ["alice", "bob"]
