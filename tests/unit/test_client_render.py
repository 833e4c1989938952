"""The renderer: a server line, my name and a color flag in; the styled text out.
And `Conversation`: server lines in, the prompt to show out."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatclient.conversation import Conversation, Reply
from chatclient.render import (
    Kind,
    Line,
    classify,
    mentions,
    name_color,
    render,
    sanitize,
    style,
    wants_attention,
)

pytestmark = pytest.mark.timeout(10)
SGR = re.compile(r"\x1b\[[0-9;]*m")
JOINED = "Joined room [{}]. Type 'exit' to leave, /help for commands."


def plain(text: str) -> str:
    return SGR.sub("", text)


# Sanitizing


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("hello", "hello"),
        ("\x1b[31mred\x1b[0m", "red"),
        ("\x1b]0;pwned\x07title", "title"),
        ("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("a\x1b[2J\x1b[Hb", "ab"),
        ("bell\x07 back\x08space", "bell backspace"),
        ("tab\there", "tab here"),
        ("c1\x9b31mcsi", "c1csi"),
        ("nul\x00del\x7f", "nuldel"),
        ("right\u202eto left", "rightto left"),
        ("漢字 and 😀", "漢字 and 😀"),
        ("lone escape \x1b", "lone escape "),
    ],
)
def test_escape_sequences_and_control_characters_are_removed(raw: str, shown: str) -> None:
    assert sanitize(raw) == shown


@given(st.text())
def test_nothing_a_terminal_acts_on_survives_sanitizing(raw: str) -> None:
    shown = sanitize(raw)
    assert not any(unicodedata.category(c) == "Cc" for c in shown)
    assert not set(shown) & set(
        "\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    )


# Classifying docs/protocol.md's line kinds


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        ("[14:02] <alice> hello", Line(Kind.CHAT, "hello", "14:02", "alice")),
        ("[14:02] <alice> <b>x</b>", Line(Kind.CHAT, "<b>x</b>", "14:02", "alice")),
        ("[14:02] * alice waves", Line(Kind.ACTION, "waves", "14:02", "alice")),
        ("[2026-11-30 14:02] <alice> hi", Line(Kind.CHAT, "hi", "2026-11-30 14:02", "alice")),
        ("[2026-11-30 14:02] * al waves", Line(Kind.ACTION, "waves", "2026-11-30 14:02", "al")),
        ("[14:03] *bob* psst", Line(Kind.PRIVATE_IN, "psst", "14:03", "bob")),
        ("[14:03] -> *bob* psst", Line(Kind.PRIVATE_OUT, "psst", "14:03", "bob")),
        ("* bob has joined general", Line(Kind.NOTICE, "* bob has joined general")),
        ('! Room "x" does not exist.', Line(Kind.ERROR, '! Room "x" does not exist.')),
        ("Enter your choice:", Line(Kind.PROMPT, "Enter your choice:")),
        ("--- Chat Menu ---", Line(Kind.OTHER, "--- Chat Menu ---")),
        ("general (2 users)", Line(Kind.OTHER, "general (2 users)")),
        ("[not a stamp] x", Line(Kind.OTHER, "[not a stamp] x")),
    ],
)
def test_each_line_kind_is_told_from_its_first_characters(line: str, parsed: Line) -> None:
    assert classify(line) == parsed


# Styling


@pytest.mark.parametrize(
    "line",
    [
        "[14:02] <alice> hello",
        "[14:02] * alice waves",
        "[14:03] *bob* psst",
        "[14:03] -> *bob* psst",
        "* bob has joined general",
        "! Nope.",
        "--- Chat Menu ---",
        "Enter your choice:",
        "general (2 users)",
    ],
)
def test_colors_change_how_a_line_looks_never_what_it_says(line: str) -> None:
    colored, _ = render(line, "carol", color=True)
    assert plain(colored) == line
    assert render(line, "carol", color=False)[0] == line


def test_without_color_the_line_has_no_escape_sequence_at_all() -> None:
    text, _ = render("\x1b[1m[14:02] <alice> hi alice", "alice", color=False)
    assert text == "[14:02] <alice> hi alice"


def test_a_chat_name_gets_its_stable_color() -> None:
    text, _ = render("[14:02] <alice> hello", "carol", color=True)
    assert f"\x1b[{name_color('alice')}m<alice>\x1b[0m" in text


def test_name_colors_are_stable_and_ignore_case() -> None:
    assert name_color("Alice") == name_color("alice") == "94"
    assert len({name_color(n) for n in ("alice", "bob", "carol", "dave", "erin", "frank")}) > 2


def test_my_own_messages_are_bold() -> None:
    text, ring = render("[14:02] <Carol> hello", "carol", color=True)
    assert f"\x1b[{name_color('carol')};1m<Carol>\x1b[0m \x1b[1mhello\x1b[0m" in text
    assert not ring


def test_notices_are_dim_and_errors_red() -> None:
    assert style(classify("* bob left"), None, True) == "\x1b[2m* bob left\x1b[0m"
    assert style(classify("! No."), None, True) == "\x1b[31m! No.\x1b[0m"


def test_a_private_message_to_me_stands_out_and_rings() -> None:
    text, ring = render("[14:03] *bob* psst", "carol", color=True)
    assert "\x1b[35;1m*bob*\x1b[0m \x1b[1mpsst\x1b[0m" in text
    assert ring


def test_my_own_private_message_does_not_ring() -> None:
    assert not render("[14:03] -> *bob* psst", "carol", color=True)[1]


def test_a_mention_of_my_name_is_highlighted_and_rings() -> None:
    text, ring = render("[14:02] <bob> hi CAROL!", "carol", color=True)
    assert "\x1b[1;7mCAROL\x1b[0m" in text
    assert ring


@pytest.mark.parametrize(
    ("text", "mentioned"),
    [
        ("carol", True),
        ("hey Carol, look", True),
        ("@carol", True),
        ("carolyn is here", False),
        ("mcarol", False),
        ("carol_2 said", False),
        ("", False),
    ],
)
def test_a_mention_is_my_name_as_a_whole_word_in_any_case(text: str, mentioned: bool) -> None:
    assert mentions(text, "carol") is mentioned


def test_a_name_with_regex_characters_is_matched_literally() -> None:
    assert mentions("hi a.b", "a.b")
    assert not mentions("hi axb", "a.b")


def test_my_own_mention_of_myself_and_notices_do_not_ring() -> None:
    assert not wants_attention(classify("[14:02] <carol> I am carol"), "carol")
    assert not wants_attention(classify("* carol has joined general"), "carol")
    assert not wants_attention(classify("[14:02] <bob> hi carol"), None)


def test_a_mention_in_an_action_rings() -> None:
    assert wants_attention(classify("[14:02] * bob pokes carol"), "carol")


def test_control_characters_are_removed_before_colors_are_added() -> None:
    text, _ = render("[14:02] <bob> \x1b[2Jhi\x07", "carol", color=True)
    assert plain(text) == "[14:02] <bob> hi"
    assert "\x07" not in text and "[2J" not in text


# The conversation: which prompt to show


def test_a_server_prompt_becomes_the_input_prompt_until_it_is_answered() -> None:
    chat = Conversation()
    assert chat.prompt() == "> "
    chat.observe("Enter your username:")
    assert chat.prompt() == "Enter your username: "
    chat.submit("alice")
    assert (chat.prompt(), chat.me) == ("> ", "alice")


def test_joining_a_room_shows_it_in_the_prompt_and_the_menu_clears_it() -> None:
    chat = Conversation()
    chat.observe(JOINED.format("general"))
    assert chat.prompt() == "[general] > "
    assert not chat.echoes_input()
    chat.observe("--- Chat Menu ---")
    chat.observe("Enter your choice:")
    assert chat.prompt() == "Enter your choice: "
    assert chat.echoes_input()


def test_a_join_from_another_room_switches_the_prompt() -> None:
    chat = Conversation()
    chat.observe(JOINED.format("general"))
    chat.observe(JOINED.format("games"))
    assert chat.prompt() == "[games] > "


def test_name_answers_the_first_username_prompt_only() -> None:
    chat = Conversation(auto_name="alice")
    assert chat.observe("Enter your username:") == Reply("alice", "Enter your username:", "alice")
    assert chat.me == "alice"
    assert chat.observe('! The name "alice" is taken.') is None
    assert chat.observe("Enter your username:") is None
    assert chat.prompt() == "Enter your username: "


def test_my_nick_change_is_followed_and_others_are_not() -> None:
    chat = Conversation()
    chat.observe("Enter your username:")
    chat.submit("alice")
    chat.observe("* bob is now known as bobby")
    assert chat.me == "alice"
    chat.observe("* Alice is now known as alicia")
    assert chat.me == "alicia"


def test_the_servers_greeting_and_a_rename_outside_a_room_set_my_name() -> None:
    chat = Conversation()
    chat.observe("Enter your username:")
    chat.submit("ALICE")
    chat.observe("* Hello, Alice!")
    assert chat.me == "Alice"
    chat.observe("* You are now known as al.")
    assert chat.me == "al"


def test_a_kill_is_noticed_only_as_the_last_line() -> None:
    chat = Conversation()
    chat.observe("! Killed (alice (spam))")
    assert chat.was_killed
    chat.observe("* something else")
    assert not chat.was_killed


def test_goodbye_is_noticed_only_as_the_last_line() -> None:
    chat = Conversation()
    chat.observe("Goodbye!")
    assert chat.said_goodbye
    chat.observe("* something else")
    assert not chat.said_goodbye


@pytest.mark.parametrize(
    "line", ["Enter the server password:", "Enter the password for alice:", "Enter your choice:"]
)
def test_a_line_ending_in_a_colon_that_is_no_chat_notice_or_error_is_a_prompt(line: str) -> None:
    assert classify(line).kind is Kind.PROMPT
    chat = Conversation()
    chat.observe(line)
    assert chat.prompt() == line + " "


@pytest.mark.parametrize(
    "line", ["* Topic for den: look:", "! Usage:", "[14:02] <bob> look:", "Rooms (2)"]
)
def test_chat_lines_notices_and_errors_ending_in_a_colon_are_not_prompts(line: str) -> None:
    assert classify(line).kind is not Kind.PROMPT
    chat = Conversation()
    chat.observe(line)
    assert chat.prompt() == "> "


@pytest.mark.parametrize("prompt", ["Enter the server password:", "Enter the password for bo:"])
def test_what_is_typed_at_any_password_prompt_is_secret_and_not_echoed(prompt: str) -> None:
    chat = Conversation()
    chat.observe(prompt)
    assert chat.secret_input() and not chat.echoes_input()
    chat.submit("hunter2")
    assert not chat.secret_input()
    chat.observe("Enter your username:")
    assert not chat.secret_input() and chat.echoes_input()


def test_enter_on_an_empty_line_answers_a_prompt_but_not_the_server_password() -> None:
    chat = Conversation()
    assert not chat.sends_empty_line()  # no prompt pending: nothing to answer
    for prompt in (
        "Enter your username:",
        "Enter the password for alice:",  # back to the name prompt
        "Enter your choice:",
        "Enter new room name:",  # back to the menu
        "Enter room name to join:",  # back to the menu
    ):
        chat.observe(prompt)
        assert chat.sends_empty_line(), prompt
    chat.observe("Enter the server password:")  # nothing behind it; a wrong password
    assert not chat.sends_empty_line()
    chat.observe(JOINED.format("den"))
    assert not chat.sends_empty_line()


def test_my_own_action_is_bold_too() -> None:
    text, _ = render("[14:02] * carol waves", "Carol", color=True)
    assert f"\x1b[{name_color('carol')};1;3m* carol waves\x1b[0m" in text
