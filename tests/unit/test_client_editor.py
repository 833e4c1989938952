"""The line editor: keys in, buffer and cursor out; layout and redraw: state in, exact
escape strings and the screen a person sees out."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatclient.editor import (
    Action,
    LineEditor,
    char_width,
    erase_reflowed,
    layout,
    print_above,
    redraw,
    text_width,
)
from chatclient.keys import Key, decode_keys
from chatclient.tty import Screen
from tests.unit.test_client_vt import VirtualScreen

pytestmark = pytest.mark.timeout(10)


def typed(*keys: Key | str) -> LineEditor:
    editor = LineEditor()
    for key in keys:
        editor.press(key)
    return editor


def state(editor: LineEditor) -> tuple[str, int]:
    return editor.buffer, editor.cursor


# Keys from terminal input


def test_printable_runs_come_back_as_one_text_key() -> None:
    assert decode_keys("héllo 漢字") == (["héllo 漢字"], "")


@pytest.mark.parametrize(
    ("sequence", "key"),
    [
        ("\x1b[D", Key.LEFT),
        ("\x1b[C", Key.RIGHT),
        ("\x1b[A", Key.UP),
        ("\x1b[B", Key.DOWN),
        ("\x1b[H", Key.HOME),
        ("\x1b[F", Key.END),
        ("\x1bOH", Key.HOME),
        ("\x1bOF", Key.END),
        ("\x1b[1~", Key.HOME),
        ("\x1b[4~", Key.END),
        ("\x1b[3~", Key.DELETE),
        ("\x1b[1;5D", Key.WORD_LEFT),
        ("\x1b[1;5C", Key.WORD_RIGHT),
        ("\x1bb", Key.WORD_LEFT),
        ("\x7f", Key.BACKSPACE),
        ("\x08", Key.BACKSPACE),
        ("\x01", Key.HOME),
        ("\x05", Key.END),
        ("\x15", Key.KILL_START),
        ("\x17", Key.KILL_WORD),
        ("\x0b", Key.KILL_END),
        ("\x04", Key.EOF),
        ("\x03", Key.INTERRUPT),
        ("\r", Key.ENTER),
        ("\r\n", Key.ENTER),
    ],
)
def test_terminal_sequences_become_editing_keys(sequence: str, key: Key) -> None:
    assert decode_keys(sequence) == ([key], "")


def test_an_escape_sequence_split_across_reads_is_kept_for_the_next_read() -> None:
    keys, rest = decode_keys("ab\x1b[")
    assert (keys, rest) == (["ab"], "\x1b[")
    assert decode_keys(rest + "D") == ([Key.LEFT], "")


def test_unknown_sequences_and_stray_controls_are_dropped() -> None:
    assert decode_keys("a\x1b[200~b\x00\x1b[99Xc") == (["a", "b", "c"], "")


# Editing


def test_typing_inserts_at_the_cursor() -> None:
    assert state(typed("helo", Key.LEFT, "l")) == ("hello", 4)


def test_home_end_and_ctrl_a_ctrl_e_move_to_the_ends() -> None:
    assert state(typed("abc", Key.HOME)) == ("abc", 0)
    assert state(typed("abc", Key.HOME, Key.END)) == ("abc", 3)


def test_left_and_right_stop_at_the_ends() -> None:
    assert state(typed("ab", Key.RIGHT)) == ("ab", 2)
    assert state(typed("ab", Key.LEFT, Key.LEFT, Key.LEFT)) == ("ab", 0)


def test_backspace_deletes_before_the_cursor_and_delete_under_it() -> None:
    assert state(typed("abc", Key.LEFT, Key.BACKSPACE)) == ("ac", 1)
    assert state(typed("abc", Key.HOME, Key.DELETE)) == ("bc", 0)
    assert state(typed("abc", Key.HOME, Key.BACKSPACE)) == ("abc", 0)


def test_ctrl_u_deletes_from_the_start_of_the_line_to_the_cursor() -> None:
    assert state(typed("hello world", Key.LEFT, Key.LEFT, Key.KILL_START)) == ("ld", 0)


def test_ctrl_k_deletes_from_the_cursor_to_the_end() -> None:
    assert state(typed("hello world", Key.HOME, Key.RIGHT, Key.KILL_END)) == ("h", 1)


def test_ctrl_w_deletes_the_word_before_the_cursor_and_the_spaces_after_it() -> None:
    assert state(typed("say hello  ", Key.KILL_WORD)) == ("say ", 4)
    assert state(typed("say hello", Key.KILL_WORD, Key.KILL_WORD)) == ("", 0)


def test_word_moves_jump_over_words() -> None:
    editor = typed("one two three", Key.WORD_LEFT)
    assert editor.cursor == 8
    editor.press(Key.WORD_LEFT)
    editor.press(Key.WORD_RIGHT)
    assert editor.cursor == 7


def test_a_combining_mark_moves_and_deletes_with_its_letter() -> None:
    editor = typed("ae\u0301", Key.LEFT)
    assert editor.cursor == 1
    editor.press(Key.DELETE)
    assert state(editor) == ("a", 1)
    assert state(typed("xe\u0301", Key.BACKSPACE)) == ("x", 1)


def test_enter_submits_the_line_and_clears_it() -> None:
    editor = typed("hi there", Key.HOME)
    assert editor.press(Key.ENTER) == (Action.SUBMIT, "hi there")
    assert state(editor) == ("", 0)


def test_ctrl_d_quits_on_an_empty_line_and_deletes_otherwise() -> None:
    assert LineEditor().press(Key.EOF) == (Action.QUIT, "")
    editor = typed("ab", Key.HOME)
    assert editor.press(Key.EOF) is None
    assert state(editor) == ("b", 0)


def test_ctrl_c_asks_to_interrupt_whatever_the_line() -> None:
    assert typed("abc").press(Key.INTERRUPT) == (Action.INTERRUPT, "")


def test_control_characters_in_pasted_text_are_not_inserted() -> None:
    assert state(typed("a\x1bb\x07c")) == ("abc", 3)


# History


def test_up_and_down_walk_the_history_and_come_back_to_the_draft() -> None:
    editor = typed("first", Key.ENTER, "second", Key.ENTER, "dra")
    editor.press(Key.UP)
    assert state(editor) == ("second", 6)
    editor.press(Key.UP)
    editor.press(Key.UP)
    assert editor.buffer == "first"
    editor.press(Key.DOWN)
    assert editor.buffer == "second"
    editor.press(Key.DOWN)
    assert state(editor) == ("dra", 3)
    editor.press(Key.DOWN)
    assert editor.buffer == "dra"


def test_history_skips_blank_lines_and_repeats() -> None:
    editor = typed("a", Key.ENTER, "a", Key.ENTER, "  ", Key.ENTER, "b", Key.ENTER)
    assert editor.history == ["a", "b"]


def test_a_secret_line_is_neither_kept_in_the_history_nor_completed_nor_recalled() -> None:
    editor = typed("before", Key.ENTER)
    editor.names = lambda: ["hunter"]
    editor.secret = True
    editor.press("hun")
    editor.press(Key.TAB)
    assert state(editor) == ("hun", 3)
    editor.press(Key.UP)
    assert state(editor) == ("hun", 3)
    assert editor.press(Key.ENTER) == (Action.SUBMIT, "hun")
    assert editor.history == ["before"]


def test_history_keeps_only_the_newest_lines() -> None:
    editor = LineEditor(max_history=2)
    for line in ("a", "b", "c"):
        editor.press(line)
        editor.press(Key.ENTER)
    assert editor.history == ["b", "c"]


# Layout and redraw


def test_a_short_line_shows_prompt_and_input_with_the_cursor_after_the_prompt() -> None:
    view = layout("[general] > ", "hello", 2, 80)
    assert (view.prompt, view.shown, view.cursor_column, view.offset) == (
        "[general] > ",
        "hello",
        14,
        0,
    )


def test_redraw_is_carriage_return_prompt_input_erase_and_a_cursor_move() -> None:
    view = layout("> ", "hello", 3, 80)
    assert redraw(view) == "\r> hello\x1b[K\r\x1b[5C"
    assert redraw(view, "1") == "\r\x1b[1m> \x1b[0mhello\x1b[K\r\x1b[5C"
    assert redraw(layout("", "", 0, 80)) == "\r\x1b[K\r"


def test_a_line_above_keeps_the_input_line_intact_below_it() -> None:
    screen = VirtualScreen(width=40, height=5)
    screen.feed(redraw(layout("> ", "half a li", 9, 40)))
    screen.feed(print_above("[12:00] <bob> hi", layout("> ", "half a li", 4, 40)))
    assert screen.lines() == ["[12:00] <bob> hi", "> half a li"]
    assert (screen.row, screen.col) == (1, 6)


def test_wide_characters_count_two_columns_for_the_cursor() -> None:
    view = layout("> ", "漢字ok", 2, 80)
    assert view.cursor_column == 6
    screen = VirtualScreen(width=20, height=2)
    screen.feed(redraw(view))
    assert (screen.lines(), screen.col) == (["> 漢字ok"], 6)


def test_emoji_are_two_columns_wide() -> None:
    assert text_width("a😀b") == 4


def test_a_line_wider_than_the_terminal_scrolls_to_keep_the_cursor_visible() -> None:
    buffer = "0123456789abcdefghij"
    view = layout("> ", buffer, len(buffer), 12)
    assert (view.offset, view.left, view.shown, view.right) == (13, "<", "defghij", "")
    assert view.cursor_column == 10
    screen = VirtualScreen(width=12, height=2)
    screen.feed(redraw(view))
    assert (screen.lines(), screen.col) == (["> <defghij"], 10)


def test_scrolling_back_left_shows_the_start_again_and_marks_the_hidden_end() -> None:
    buffer = "0123456789abcdefghij"
    view = layout("> ", buffer, len(buffer), 12)
    view = layout("> ", buffer, 0, 12, view.offset)
    assert (view.offset, view.left, view.shown, view.right) == (0, "", "01234567", ">")
    assert view.cursor_column == 2


def test_text_hidden_on_both_sides_is_marked_on_both_edges() -> None:
    buffer = "0123456789abcdefghij"
    view = layout("> ", buffer, 10, 12, 5)
    assert (view.left, view.shown, view.right, view.cursor_column) == ("<", "56789ab", ">", 8)
    screen = VirtualScreen(width=12, height=2)
    screen.feed(redraw(view, "1", "7"))
    assert (screen.lines(), screen.col) == (["> <56789ab>"], 8)
    assert "\x1b[7m<\x1b[0m" in redraw(view, "1", "7")


def test_the_scroll_offset_does_not_jump_while_the_cursor_stays_on_screen() -> None:
    buffer = "0123456789abcdefghij"
    first = layout("> ", buffer, len(buffer), 12)
    second = layout("> ", buffer, len(buffer) - 3, 12, first.offset)
    assert second.offset == first.offset


def test_a_wide_character_is_never_cut_in_half_at_the_right_edge() -> None:
    view = layout("> ", "abcdefgh漢", 0, 12)
    assert (view.shown, view.right) == ("abcdefgh", ">")
    view = layout("> ", "abcdefg漢h", 0, 12)
    assert (view.shown, view.right) == ("abcdefg", " >")


def test_wide_characters_scrolled_sideways_keep_the_cursor_exact() -> None:
    buffer = "漢字かなカナ漢字かなカナ"
    view = layout("> ", buffer, 7, 12, 0)
    screen = VirtualScreen(width=12, height=2)
    screen.feed(redraw(view))
    assert screen.lines()[0].startswith("> <")
    assert screen.cells[0][screen.col] == buffer[7]


def test_a_prompt_that_leaves_too_little_room_for_input_is_cut_from_the_left() -> None:
    assert layout("Enter room name to join: ", "", 0, 20).prompt == "e to join: "
    assert layout("Enter your choice: ", "", 0, 30).prompt == "Enter your choice: "


def test_erasing_after_a_shrink_goes_up_to_the_first_row_of_the_reflowed_line() -> None:
    view = layout("[café] > ", "x" * 69, 69, 100)
    assert erase_reflowed(view, 60) == "\r\x1b[1A\x1b[J"
    assert erase_reflowed(view, 30) == "\r\x1b[2A\x1b[J"
    assert erase_reflowed(view, 120) == "\r\x1b[J"
    assert erase_reflowed(layout("> ", "x" * 69, 10, 100), 60) == "\r\x1b[J"


@given(
    st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=80),
    st.integers(min_value=0, max_value=80),
    st.integers(min_value=10, max_value=120),
    st.integers(min_value=4, max_value=120),
)
def test_after_any_resize_only_the_new_input_line_is_left_on_screen(
    buffer: str, cursor: int, old: int, new: int
) -> None:
    cursor = min(cursor, len(buffer))
    screen = VirtualScreen(width=old, height=40)  # the old line reflowed fits below "ab"
    screen.feed("ab\r\n")
    before = layout("> ", buffer, cursor, old)
    screen.feed(redraw(before))
    screen.resize(new, 40)
    after = layout("> ", buffer, cursor, new, before.offset)
    screen.feed(erase_reflowed(before, new) + redraw(after))
    expected = VirtualScreen(width=new, height=1)
    expected.feed(redraw(after))
    assert screen.lines() == ["ab", *expected.lines()]
    assert (screen.row, screen.col) == (1, after.cursor_column)


@given(
    st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=60),
    st.integers(min_value=0, max_value=60),
    st.integers(min_value=4, max_value=120),
    st.integers(min_value=0, max_value=60),
)
def test_the_input_line_always_fits_and_the_cursor_is_on_it(
    buffer: str, cursor: int, width: int, offset: int
) -> None:
    cursor = min(cursor, len(buffer))
    view = layout("> ", buffer, cursor, width, offset)
    assert text_width(view.prompt + view.left + view.shown + view.right) <= width - 1
    assert view.cursor_column <= width - 1
    assert 0 <= view.offset <= cursor
    screen = VirtualScreen(width=width, height=3)
    screen.feed(redraw(view))
    assert len(screen.lines()) <= 1
    if width - 1 - text_width(view.prompt) >= 4:  # room for markers and a cursor
        assert view.left == ("<" if view.offset else "")
        hidden_right = len(buffer) > view.offset + len(view.shown)
        assert view.right.endswith(">") == hidden_right
    assert view.shown == buffer[view.offset : view.offset + len(view.shown)]
    if cursor < len(buffer) and char_width(buffer[cursor]):  # the cursor is on its character
        assert screen.cells[0][screen.col] == buffer[cursor]


@given(st.text(max_size=50))
def test_decoding_any_input_never_fails_and_keeps_its_printable_text(text: str) -> None:
    keys, rest = decode_keys(text)
    assert all(isinstance(k, Key) or k.isprintable() for k in keys)
    if "\x1b" not in text:
        assert rest == ""
        assert "".join(k for k in keys if isinstance(k, str)) == "".join(
            c for c in text if c.isprintable()
        )


def test_a_secret_input_line_shows_its_prompt_and_nothing_of_what_is_typed() -> None:
    out = io.StringIO()
    screen = Screen(out, color=False, bell=False, columns=lambda: 40)
    prompt = "Enter the server password: "
    screen.set_prompt(prompt, secret=True)
    for key in ("hunter2", Key.LEFT, "x"):
        screen.editor.press(key)
        screen.refresh()
    screen.show("* a line arrives")
    assert screen.editor.buffer == "hunterx2"
    assert "hunter" not in out.getvalue() and "x2" not in out.getvalue()
    vt = VirtualScreen(width=40, height=3)
    vt.feed(out.getvalue())
    assert vt.lines()[-2:] == ["* a line arrives", prompt.rstrip()]
    assert (vt.row, vt.col) == (len(vt.lines()) - 1, len(prompt))
    screen.set_prompt("Enter your username: ")
    screen.refresh()
    assert not screen.editor.secret
