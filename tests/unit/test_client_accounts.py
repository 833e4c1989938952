"""The client and an account's password: it answers `Enter the password for NAME:`
with the password it holds (from --password-file, or typed there once), holds the
user's lines while that prompt may come next, and forgets a password the server called
wrong. Pure state machines: no sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatclient.conversation import Conversation, Reply
from chatclient.editor import LineEditor
from chatclient.render import without_secret
from client import parse_args, read_password

NAME_PROMPT = "Enter your username:"
ASKED = "Enter the password for alice:"


def test_a_password_typed_at_the_prompt_answers_it_after_a_reconnect() -> None:
    talk = Conversation()
    talk.observe(NAME_PROMPT)
    talk.submit("alice")
    talk.observe(ASKED)
    assert talk.secret_input() and talk.sends_empty_line()
    talk.submit("sesame")
    for line in ("* Hello, alice!", "* You are logged in as alice.", "Enter your choice:"):
        talk.observe(line)
    talk.reconnected()
    assert talk.observe(NAME_PROMPT) == Reply(send="alice", prompt=NAME_PROMPT, echo="alice")
    assert talk.holds_input()
    assert talk.observe(ASKED) == Reply(send="sesame")
    assert talk.observe("* Hello, alice!") is None and not talk.holds_input()


def test_an_empty_answer_is_not_kept() -> None:
    talk = Conversation()
    talk.observe(ASKED)
    talk.submit("")
    assert talk.account_password is None


def test_the_password_of_one_account_is_not_given_to_another() -> None:
    talk = Conversation()
    talk.observe(ASKED)
    talk.submit("sesame")
    assert talk.observe("Enter the password for bob:") is None


def test_a_password_from_a_file_answers_any_account_once_and_is_dropped_when_wrong() -> None:
    talk = Conversation()
    talk.account_password = "sesame"
    assert talk.holds_input()  # nothing from the server yet: a piped line waits
    talk.observe(NAME_PROMPT)
    assert not talk.holds_input()
    talk.line_out()  # the name
    assert talk.holds_input()  # the server may ask for the password next
    assert talk.observe(ASKED) == Reply(send="sesame")
    talk.line_out()
    assert talk.observe("! Wrong password for alice.") is None
    talk.observe(NAME_PROMPT)
    assert talk.account_password is None and not talk.holds_input()


def test_without_an_account_password_nothing_is_held() -> None:
    talk = Conversation()
    talk.line_out()
    assert not talk.holds_input()


def test_password_file_gives_its_first_line(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_text("sesame  \r\nsecond line\n")
    assert read_password(str(path)) == "sesame  "
    options = parse_args(["--password-file", str(path)])
    assert options.account_password == "sesame  " and "sesame" not in repr(options)


def test_an_unusable_password_file_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    for path in (str(empty), str(tmp_path / "missing")):
        with pytest.raises(SystemExit) as exit:
            parse_args(["--password-file", path])
        assert exit.value.code == 2
        assert f"--password-file: cannot use {path}" in capsys.readouterr().err


def test_a_typed_password_is_echoed_and_remembered_without_it() -> None:
    assert without_secret("/register sesame") == "/register"
    assert without_secret("/PASSWORD old new") == "/PASSWORD"
    assert without_secret("/oper root pw") == "/oper root"
    assert without_secret("/msg nickserv identify alice pw") == "/msg nickserv identify"
    for plain in ("/register", "/msg NickServ INFO alice", "/msg bob identify x y", "hello", ""):
        assert without_secret(plain) is None
    editor = LineEditor()
    for line in ("/register sesame", "hello"):
        editor.buffer = line
        assert editor.submit() == line
    assert editor.history == ["hello"]


def test_after_a_reconnect_without_a_password_the_user_types_it() -> None:
    talk = Conversation()
    talk.observe(NAME_PROMPT)
    talk.submit("alice")
    talk.observe("* Hello, alice!")  # before alice registered: no password typed
    talk.observe("Enter your choice:")
    talk.reconnected()
    talk.observe(NAME_PROMPT)
    assert talk.observe(ASKED) is None
    assert not talk.holds_input() and talk.secret_input()  # the user types it, masked
    talk.submit("sesame")
    assert talk.account_password == "sesame" and talk.account == "alice"
