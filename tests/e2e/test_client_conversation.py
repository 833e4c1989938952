"""After a reconnect, the conversation takes back the name (with the latest reclaim
code) and the room, following the server's reclaim protocol line by line; and the
retries before it back off."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable

import pytest

from chatclient.conversation import Conversation, Reply
from chatclient.net import Client

pytestmark = pytest.mark.timeout(10)

NAME_PROMPT = "Enter your username:"
CHOICE = "Enter your choice:"
MENU = ["--- Chat Menu ---", "1. Create a new chat room", "4. Exit", CHOICE]


def code_line(code: str, name: str = "alice") -> str:
    return f"* Reclaim code: {code} (after a dropped connection: /reclaim {name} {code})"


def joined(room: str) -> str:
    return f"Joined room [{room}]. Type 'exit' to leave, /help for commands."


def in_room(room: str = "café", *codes: str) -> Conversation:
    """alice in `room`, having seen `codes`; then the connection dropped and came back."""
    talk = Conversation()
    talk.observe(NAME_PROMPT)
    talk.submit("alice")
    for line in ["* Hello, alice!", *[code_line(c) for c in codes], *MENU]:
        talk.observe(line)
    talk.submit(f"/join {room}")
    talk.observe(joined(room))
    talk.reconnected()
    return talk


def replies(talk: Conversation, *lines: str) -> list[Reply]:
    return [r for line in lines if (r := talk.observe(line)) is not None]


def test_the_latest_code_reclaims_the_name_then_the_room_is_joined_from_the_menu() -> None:
    talk = in_room("café", "old1", "new-2_X")
    assert talk.holds_input()
    assert replies(talk, "* Welcome to chatroom.", NAME_PROMPT) == [
        Reply("/reclaim alice new-2_X", NAME_PROMPT, "/reclaim alice")
    ]
    assert replies(talk, "* Welcome back, alice!", code_line("third")) == []
    assert not talk.holds_input()
    assert replies(talk, *MENU) == [Reply("/join café", CHOICE, "/join café")]
    assert replies(talk, joined("café"), "* Users in café: alice, bob") == []
    assert (talk.room, talk.me, talk.reclaim_code) == ("café", "alice", "third")
    assert talk.room_names() == ["bob"]


def test_a_room_gone_meanwhile_is_created_again() -> None:
    talk = in_room("den", "c0de")
    replies(talk, NAME_PROMPT, "* Welcome back, alice!", code_line("c1"))
    assert replies(talk, *MENU, '! Room "den" does not exist.') == [
        Reply("/join den", CHOICE, "/join den"),
        Reply("/create den", notice="* Creating den again."),
    ]
    assert replies(talk, *MENU, joined("den")) == []
    assert talk.room == "den"


def test_when_the_server_puts_me_back_in_my_room_nothing_more_is_sent() -> None:
    talk = in_room("den", "c0de")
    replies(talk, NAME_PROMPT)
    lines = ["* Welcome back, alice!", code_line("c1"), joined("den"), "* Users in den: alice"]
    assert replies(talk, *lines, "[12:00] <bob> hi", *MENU) == []
    assert talk.rejoin is not None and talk.rejoin.logged_in()


def test_a_refused_code_falls_back_to_the_plain_name() -> None:
    talk = in_room("den", "c0de")
    replies(talk, NAME_PROMPT)
    refused = '! Cannot reclaim "alice": the code is wrong or expired.'
    assert replies(talk, refused, NAME_PROMPT) == [Reply("alice", NAME_PROMPT, "alice")]
    assert talk.holds_input()
    assert replies(talk, "* Hello, alice!", *MENU) == [Reply("/join den", CHOICE, "/join den")]


def test_a_plain_name_taken_too_leaves_the_user_at_the_name_prompt() -> None:
    talk = in_room("den", "c0de")
    replies(talk, NAME_PROMPT, "! Cannot reclaim it.", NAME_PROMPT)
    assert replies(talk, '! The name "alice" is taken.', NAME_PROMPT) == [
        Reply(notice="! Could not take back the name alice; type a name.")
    ]
    assert not talk.holds_input()
    assert talk.prompt() == "Enter your username: "
    talk.submit("alice2")
    assert replies(talk, "* Hello, alice2!", *MENU) == [Reply("/join den", CHOICE, "/join den")]
    assert talk.me == "alice2"


def test_without_a_code_the_plain_name_is_sent() -> None:
    talk = in_room("den")
    assert replies(talk, NAME_PROMPT) == [Reply("alice", NAME_PROMPT, "alice")]


def test_in_the_menu_before_the_drop_no_room_is_joined() -> None:
    talk = Conversation()
    replies(talk, NAME_PROMPT)
    talk.submit("alice")
    replies(talk, "* Hello, alice!", code_line("c0"), *MENU)
    talk.reconnected()
    replies(talk, NAME_PROMPT, "* Welcome back, alice!")
    assert replies(talk, *MENU) == []
    assert not talk.holds_input()


def test_quit_and_menu_choice_4_are_no_drop() -> None:
    talk = Conversation()
    talk.note_sent("hello /quit")
    assert not talk.quitting
    talk.note_sent("/QUIT bye")
    assert talk.quitting
    talk = Conversation()
    talk.note_sent("4")
    assert not talk.quitting
    talk.observe(CHOICE)
    talk.submit("4")
    assert talk.quitting


class Stop(Exception):
    pass


async def test_retries_back_off_from_1_s_doubling_up_to_30_s(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as sock:  # a port nobody listens on: refused at once
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 8:
            raise Stop

    monkeypatch.setattr(asyncio, "sleep", no_wait)
    told: list[str] = []
    client = Client("127.0.0.1", port, Conversation(), reconnect=True, notify=told.append)
    with pytest.raises(Stop):
        await client._reconnect("Connection closed by server.")
    assert waits == [1, 2, 4, 8, 16, 30, 30, 30]
    assert told[0] == "* Connection lost (closed by server); reconnecting in 1 s (Ctrl-C stops)."
    assert told[1:3] == [
        f"* Reconnecting to 127.0.0.1:{port} (attempt 1)...",
        f"* Cannot connect to 127.0.0.1:{port}: connection refused. Next attempt in 2 s.",
    ]
    assert told[-2] == f"* Reconnecting to 127.0.0.1:{port} (attempt 7)..."
    assert told[-1].endswith("connection refused. Next attempt in 30 s.")


def test_a_server_password_is_not_kept_on_screen_and_is_given_again_on_reconnect() -> None:
    talk = Conversation()
    talk.observe("Enter the server password:")
    assert not talk.echoes_input()  # the password does not stay on screen
    talk.submit("open sesame")
    talk.observe(NAME_PROMPT)
    talk.submit("alice")
    for line in ["* Hello, alice!", code_line("c1"), *MENU]:
        talk.observe(line)
    talk.reconnected()
    assert talk.observe("Enter the server password:") == Reply(send="open sesame")
    reply = talk.observe(NAME_PROMPT)
    assert reply is not None and reply.send == "/reclaim alice c1"


# After a server restart: what the screen shows


REFUSED = '! Cannot reclaim "alice": the code is wrong or expired.'
SINCE = "* The next room you join replays what was said there since 2026-01-01T00:00:00.000Z."


def shown(talk: Conversation, *lines: str) -> list[str]:
    """The lines to show for `lines`, as the client gets them from the server."""
    return [line for got in lines for line in talk.receive(got)[0]]


def seen_in_den(*lines: str, clock: Callable[[], float] = time.monotonic) -> Conversation:
    """alice in den, having seen `lines` there; then the connection dropped and came back."""
    talk = Conversation(clock=clock)
    shown(talk, NAME_PROMPT)
    talk.submit("alice")
    shown(talk, "* Hello, alice!", code_line("c0"), *MENU)
    talk.submit("/join den")
    shown(talk, joined("den"), "* Users in den: alice, bob", *lines)
    talk.reconnected()
    return talk


def test_a_refused_code_while_taking_the_name_back_is_not_shown_but_a_typed_one_is() -> None:
    talk = seen_in_den()
    assert shown(talk, NAME_PROMPT, REFUSED, NAME_PROMPT) == [NAME_PROMPT, NAME_PROMPT]
    assert shown(talk, "* Hello, alice!") == ["* Hello, alice!"]
    typed = Conversation()
    assert shown(typed, NAME_PROMPT, REFUSED) == [NAME_PROMPT, REFUSED]


def test_after_a_rejoin_the_replay_shows_only_the_lines_not_seen_yet() -> None:
    talk = seen_in_den(
        "[23:59] <bob> ok",
        "[23:59] <bob> ok",
        "[23:59] * bob waves",
        "* bob set the topic of den to: plans",
        "[00:01] <alice> mine",
    )
    shown(talk, NAME_PROMPT, REFUSED, NAME_PROMPT, "* Hello, alice!", *MENU, SINCE, CHOICE)
    replay = [
        "[2026-01-01 23:58] <bob> older",
        "[2026-01-01 23:59] <bob> ok",
        "[2026-01-01 23:59] <bob> ok",
        "[2026-01-01 23:59] <bob> ok",  # said a third time while alice was away
        "[2026-01-01 23:59] * bob waves",
        "* bob set the topic of den to: plans",
        "[00:01] <alice> mine",
        "[00:02] <carol> missed",
    ]
    assert shown(
        talk, joined("den"), "* Users in den: alice, carol", "* Topic for den: plans",
        "* History of den (8 messages)", *replay, "* End of history.", "[00:03] <carol> live",
    ) == [
        joined("den"), "* Users in den: alice, carol", "* Topic for den: plans",
        "* History of den (3 messages)",
        "[2026-01-01 23:58] <bob> older",
        "[2026-01-01 23:59] <bob> ok",
        "[00:02] <carol> missed",
        "* End of history.",
        "[00:03] <carol> live",
    ]  # fmt: skip


def test_a_replay_with_nothing_new_is_not_shown_and_history_asked_for_is_shown_whole() -> None:
    talk = seen_in_den("[10:00] <bob> one", "[10:01] <bob> two")
    shown(talk, NAME_PROMPT, "* Hello, alice!", *MENU, SINCE, CHOICE)
    history = ["* History of den (2 messages)", "[10:00] <bob> one", "[10:01] <bob> two"]
    after_join = shown(talk, joined("den"), *history, "* End of history.", "[10:02] <bob> 3")
    assert after_join == [joined("den"), "[10:02] <bob> 3"]
    asked = [*history, "* End of history."]
    assert shown(talk, *asked) == asked  # /history: the user asked to see it again


def test_a_rejoin_into_a_room_without_history_shows_everything_after_it() -> None:
    talk = seen_in_den("[10:00] <bob> one")
    shown(talk, NAME_PROMPT, "* Hello, alice!", *MENU)
    lines = [joined("den"), "* Users in den: alice", "[10:00] <bob> one"]
    assert shown(talk, *lines) == lines  # said again, live: no replay frame, no filter


def test_back_in_the_menu_it_asks_for_what_was_said_since_it_last_heard_the_server() -> None:
    now = [100.0]
    talk = seen_in_den("[10:00] <bob> one", clock=lambda: now[0])  # heard at 100 s
    now[0] = 104.2  # the reconnect took a while
    shown(talk, NAME_PROMPT, "* Hello, alice!", *MENU[:-1])
    _, reply = talk.receive(CHOICE)
    assert reply == Reply("/replay since 15s", CHOICE)  # and 10 s more, for lines in flight
    assert talk.holds_input() is False
    assert shown(talk, SINCE) == []  # the answer to its own command: not news
    _, reply = talk.receive(CHOICE)
    assert reply == Reply("/join den", CHOICE, "/join den")
    assert shown(talk, joined("den")) == [joined("den")]


def test_an_older_server_refusing_replay_since_is_no_news_either() -> None:
    talk = seen_in_den()
    shown(talk, NAME_PROMPT, "* Hello, alice!", *MENU)
    assert shown(talk, "! Usage: /replay [on|off]") == []
    _, reply = talk.receive(CHOICE)
    assert reply == Reply("/join den", CHOICE, "/join den")


def test_the_unread_line_stays_before_the_first_unseen_line_after_it() -> None:
    talk = seen_in_den("[10:00] <bob> one", "[10:01] <bob> two")
    shown(talk, NAME_PROMPT, "* Hello, alice!", *MENU, SINCE, CHOICE)
    replay = [
        "* History of den (4 messages)",
        "[10:00] <bob> one",
        "* New since you last read: 3 messages",  # read on another device up to one
        "[10:01] <bob> two",
        "[10:02] <bob> three",
        "[10:03] <bob> four",
        "* End of history.",
    ]
    assert shown(talk, joined("den"), *replay) == [
        joined("den"),
        "* History of den (2 messages)",
        "* New since you last read: 2 messages",
        "[10:02] <bob> three",
        "[10:03] <bob> four",
        "* End of history.",
    ]
    talk.reconnected()
    shown(talk, NAME_PROMPT, "* Hello, alice!", *MENU, SINCE, CHOICE)
    again = ["* History of den (1 message)", "* New since you last read: 1 message"]
    assert shown(talk, joined("den"), *again, "[10:03] <bob> four", "* End of history.") == [
        joined("den")
    ]
