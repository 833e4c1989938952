"""The client's shell, without a server: options, color choice, the fallback without
termios, terminal modes, and the Screen's output for a given state."""

from __future__ import annotations

import io
import sys
import termios

import pytest

import client
from chatclient.net import describe, line_too_long
from chatclient.tty import Attrs, Screen, raw_attrs
from tests.unit.test_client_vt import VirtualScreen

pytestmark = pytest.mark.timeout(10)


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_defaults_are_localhost_8080_with_auto_color_and_the_bell_on() -> None:
    assert client.parse_args([]) == client.Options("127.0.0.1", 8080, None, "auto", True, 2048)


def test_every_option_is_parsed() -> None:
    options = client.parse_args(
        [
            "--host",
            "::1",
            "--port",
            "9",
            "--name",
            "zoe",
            "--color",
            "never",
            "--no-bell",
            "--max-line",
            "512",
        ]
    )
    assert options == client.Options("::1", 9, "zoe", "never", False, 512)


@pytest.mark.parametrize(
    ("args", "reconnect"), [([], None), (["--reconnect"], True), (["--no-reconnect"], False)]
)
def test_reconnect_is_on_off_or_left_to_the_mode(args: list[str], reconnect: bool | None) -> None:
    assert client.parse_args(args).reconnect is reconnect


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_a_max_line_below_one_byte_is_a_usage_error(value: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        client.parse_args(["--max-line", value])
    assert exit_.value.code == 2


def test_a_line_is_too_long_by_its_utf8_bytes_not_its_characters() -> None:
    assert line_too_long("x" * 2048, 2048) is None
    assert line_too_long("é" * 1024, 2048) is None
    assert line_too_long("é" * 1050, 2048) == "! Line too long: 2100 of 2048 bytes; not sent."


@pytest.mark.parametrize(
    ("choice", "interactive", "environ", "colored"),
    [
        ("auto", True, {}, True),
        ("auto", True, {"NO_COLOR": "1"}, False),
        ("auto", True, {"NO_COLOR": ""}, True),
        ("auto", False, {}, False),
        ("always", False, {"NO_COLOR": "1"}, True),
        ("never", True, {}, False),
    ],
)
def test_color_follows_the_option_the_terminal_and_no_color(
    choice: str, interactive: bool, environ: dict[str, str], colored: bool
) -> None:
    assert client.use_color(choice, interactive, environ) is colored


def test_the_line_editor_runs_only_when_both_ends_are_terminals() -> None:
    assert client.can_edit_lines(FakeTerminal(), FakeTerminal())
    assert not client.can_edit_lines(io.StringIO(), FakeTerminal())
    assert not client.can_edit_lines(FakeTerminal(), io.StringIO())


def test_without_termios_it_falls_back_to_the_plain_line_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "termios", None)  # import termios now fails
    assert not client.can_edit_lines(FakeTerminal(), FakeTerminal())


def test_socket_errors_are_described_in_a_few_lower_case_words() -> None:
    assert describe(ConnectionRefusedError(111, "Connection refused")) == "connection refused"
    assert describe(OSError(-2, "Name or service not known")) == "name or service not known"
    assert describe(ConnectionResetError()) == "ConnectionResetError"


def test_the_first_real_error_is_named_not_the_exception_group() -> None:
    group = ExceptionGroup("tasks", [ExceptionGroup("inner", [KeyError("x")])])
    assert repr(client.first_leaf(group)) == "KeyError('x')"


def test_raw_mode_turns_off_echo_line_buffering_and_signal_keys_but_not_output() -> None:
    control_chars: list[bytes | int] = [b"\x00"] * 32
    cooked: Attrs = [
        termios.ICRNL | termios.IXON,
        termios.OPOST,
        termios.CS8,
        termios.ECHO | termios.ICANON | termios.ISIG | termios.IEXTEN,
        38400,
        38400,
        control_chars,
    ]
    iflag, oflag, _, lflag, _, _, cc = raw_attrs(cooked)
    assert isinstance(iflag, int) and isinstance(lflag, int) and isinstance(cc, list)
    assert iflag & (termios.ICRNL | termios.IXON) == 0
    assert lflag & (termios.ECHO | termios.ICANON | termios.ISIG | termios.IEXTEN) == 0
    assert oflag == termios.OPOST
    assert (cc[termios.VMIN], cc[termios.VTIME]) == (1, 0)
    assert cooked[3] == termios.ECHO | termios.ICANON | termios.ISIG | termios.IEXTEN


def screen_of(out: io.StringIO) -> VirtualScreen:
    screen = VirtualScreen(80, 10)
    screen.feed(out.getvalue())
    return screen


def test_the_screen_prints_above_the_input_and_rings_only_when_asked() -> None:
    out = io.StringIO()
    screen = Screen(out, color=False, bell=True)
    screen.set_prompt("[general] > ")
    screen.editor.press("typing")
    screen.refresh()
    screen.show("[12:00] <bob> hi alice", ring=True)
    screen.show("* bob has left general")
    shown = screen_of(out)
    assert shown.lines() == [
        "[12:00] <bob> hi alice",
        "* bob has left general",
        "[general] > typing",
    ]
    assert (shown.bells, shown.col) == (1, len("[general] > typing"))


def test_no_bell_keeps_the_terminal_quiet() -> None:
    out = io.StringIO()
    Screen(out, color=False, bell=False).show("[12:00] *bob* psst", ring=True)
    assert "\a" not in out.getvalue()


def test_an_answer_stays_on_screen_after_its_prompt() -> None:
    out = io.StringIO()
    screen = Screen(out, color=True, bell=True)
    screen.echo("Enter your choice: ", "1")
    assert out.getvalue().startswith("\r\x1b[K\x1b[1mEnter your choice: \x1b[0m1\r\n")
    assert screen_of(out).lines() == ["Enter your choice: 1", ">"]


def test_a_line_printed_before_sigwinch_is_handled_already_uses_the_new_width() -> None:
    out = io.StringIO()
    width = [100]
    screen = Screen(out, color=False, bell=False, columns=lambda: width[0])
    screen.set_prompt("[café] > ")
    screen.editor.press("x" * 69)
    screen.refresh()
    shown = VirtualScreen(100, 6)
    shown.feed(out.getvalue())
    mark = len(out.getvalue())
    width[0] = 60
    shown.resize(60, 6)
    screen.show("[12:00] <bob> hi")  # before the SIGWINCH handler has run
    screen.resize()
    shown.feed(out.getvalue()[mark:])
    assert shown.lines() == ["[12:00] <bob> hi", "[café] > <" + "x" * 48]
