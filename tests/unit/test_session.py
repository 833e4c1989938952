"""The socket-free session core: lines in, lines out, exact docs/protocol.md wording."""

from __future__ import annotations

import time

import pytest

from config.settings import Config
from doors.text.session import MENU, Session, State
from rooms import RoomManager

NOON = time.mktime((2026, 11, 25, 12, 34, 0, 0, 0, -1))
HHMM = time.strftime("%H:%M", time.localtime(NOON))


class User:
    """A session with its output captured."""

    def __init__(self, rooms: RoomManager, config: Config | None = None, peer: str = "-") -> None:
        self.out: list[str] = []
        self.session = Session(rooms, config or Config(), self.out.append, peer=peer)

    async def say(self, *lines: str) -> list[str]:
        """Feed lines; return what came out for them."""
        self.out.clear()
        for line in lines:
            await self.session.feed(line)
        return list(self.out)


@pytest.fixture
def rooms() -> RoomManager:
    return RoomManager(clock=lambda: NOON, defer=lambda flush: flush())


async def named(rooms: RoomManager, name: str, peer: str = "-") -> User:
    """A session past its name prompt, at the menu."""
    user = User(rooms, peer=peer)
    user.session.start()
    await user.say(name)
    return user


async def in_room(rooms: RoomManager, name: str, room: str, peer: str = "-") -> User:
    user = await named(rooms, name, peer)
    if rooms.snapshot()[1].get(room.casefold()):
        await user.say(f"/join {room}")
    else:
        await user.say(f"/create {room}")
    user.out.clear()
    return user


async def test_a_new_session_is_welcomed_and_asked_for_a_name(rooms: RoomManager) -> None:
    user = User(rooms)
    user.session.start()
    assert user.out == ["* Welcome to chatroom.", "Enter your username:"]


async def test_a_good_name_leads_to_the_menu(rooms: RoomManager) -> None:
    user = User(rooms)
    hello, code, *menu = await user.say("alice")
    assert hello == "* Hello, alice!" and code.startswith("* Reclaim code: ")
    assert menu == list(MENU)
    assert user.session.state is State.MENU


async def test_taken_name_is_refused_whatever_the_case(rooms: RoomManager) -> None:
    await named(rooms, "alice")
    user = User(rooms)
    assert await user.say("ALICE") == ['! The name "ALICE" is taken.', "Enter your username:"]
    assert user.session.state is State.NAME


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "must be 1 to 24 characters"),
        ("x" * 25, "must be 1 to 24 characters"),
        ("two words", "cannot contain spaces, invisible or direction-changing characters"),
        ("a!b", "may only use letters, digits and _ - . [ ] \\ ` ^ { | }"),
        ("*star", "may only use letters, digits and _ - . [ ] \\ ` ^ { | }"),
    ],
)
async def test_bad_names_get_an_error_and_the_prompt_again(
    rooms: RoomManager, name: str, why: str
) -> None:
    user = User(rooms)
    assert await user.say(name) == [
        f'! Invalid name "{name.strip()}": {why}.',
        "Enter your username:",
    ]


async def test_server_is_a_reserved_name(rooms: RoomManager) -> None:
    user = User(rooms)
    assert await user.say("Server") == ['! The name "Server" is reserved.', "Enter your username:"]


async def test_unicode_letters_digits_and_punctuation_make_a_name(rooms: RoomManager) -> None:
    user = User(rooms)
    assert (await user.say("Zoë_2.0-ü"))[0] == "* Hello, Zoë_2.0-ü!"


async def test_menu_option_one_creates_and_joins_a_room(rooms: RoomManager) -> None:
    user = await named(rooms, "alice")
    assert await user.say("1") == ["Enter new room name:"]
    assert await user.say("general") == [
        "Joined room [general]. Type 'exit' to leave, /help for commands.",
        "* Users in general: @alice",  # its maker is its operator, and is told so
    ]
    assert await rooms.listing() == [("general", 1)]


async def test_create_command_tells_the_maker_it_is_the_operator(rooms: RoomManager) -> None:
    user = await named(rooms, "alice")
    assert await user.say("/create general") == [
        "Joined room [general]. Type 'exit' to leave, /help for commands.",
        "* Users in general: @alice",
    ]


async def test_creating_an_existing_room_is_an_error_and_back_to_the_menu(
    rooms: RoomManager,
) -> None:
    await in_room(rooms, "alice", "general")
    user = await named(rooms, "bob")
    assert await user.say("1", "GENERAL") == [
        "Enter new room name:",
        '! Room "general" already exists.',
        *MENU,
    ]


async def test_menu_option_two_lists_rooms_then_joins_one(rooms: RoomManager) -> None:
    await in_room(rooms, "alice", "general")
    user = await named(rooms, "bob")
    assert await user.say("2") == ["Rooms (1)", "general (1 user)", "Enter room name to join:"]
    assert await user.say("General") == [
        "Joined room [general]. Type 'exit' to leave, /help for commands.",
        "* Users in general: @alice, bob",
    ]


async def test_joining_a_missing_room_is_an_error_and_back_to_the_menu(rooms: RoomManager) -> None:
    await in_room(rooms, "alice", "general")
    user = await named(rooms, "bob")
    assert await user.say("2", "nowhere") == [
        "Rooms (1)",
        "general (1 user)",
        "Enter room name to join:",
        '! Room "nowhere" does not exist.',
        *MENU,
    ]


async def test_choosing_two_with_no_rooms_goes_straight_back_to_the_menu(
    rooms: RoomManager,
) -> None:
    user = await named(rooms, "bob")
    assert await user.say("2") == ["* No rooms yet. Create one with 1 or /create NAME.", *MENU]
    assert user.session.state is State.MENU
    assert await user.say("1") == ["Enter new room name:"]  # 1, as the notice says


async def test_menu_option_three_lists_rooms_and_shows_the_menu_again(rooms: RoomManager) -> None:
    await in_room(rooms, "alice", "b-room")
    await in_room(rooms, "bob", "A-room")
    user = await named(rooms, "carol")
    assert await user.say("3") == ["Rooms (2)", "A-room (1 user)", "b-room (1 user)", *MENU]


async def test_menu_option_four_says_goodbye_and_frees_the_name(rooms: RoomManager) -> None:
    user = await named(rooms, "alice")
    assert await user.say("4") == ["Goodbye!"]
    assert user.session.state is State.CLOSED
    assert rooms.snapshot() == ({}, {})


@pytest.mark.parametrize("choice", ["5", "one", "1 2"])
async def test_an_invalid_choice_gets_an_error_and_the_menu(
    rooms: RoomManager, choice: str
) -> None:
    user = await named(rooms, "alice")
    assert await user.say(choice) == [f'! Invalid choice "{choice}". Enter 1, 2, 3 or 4.', *MENU]


async def test_an_empty_password_line_asks_again_and_is_not_a_wrong_attempt(
    rooms: RoomManager,
) -> None:
    user = User(rooms, Config(password="s3cret"), peer="10.0.0.5:4000")
    user.session.start()
    again = ["! No password given: type the server password.", "Enter the server password:"]
    for _ in range(10):  # more than the wrong attempts an address may make
        assert await user.say("") == again
    assert await user.say("  ") == again
    assert await user.say("nope") == ["! Wrong password.", "Enter the server password:"]
    assert await user.say("s3cret") == ["Enter your username:"]


async def test_chat_reaches_everyone_in_the_room_including_the_sender(rooms: RoomManager) -> None:
    alice = await in_room(rooms, "alice", "general")
    bob = await in_room(rooms, "bob", "general")
    alice.out.clear()
    assert await bob.say("hello there") == [f"[{HHMM}] <bob> hello there"]
    assert alice.out == [f"[{HHMM}] <bob> hello there"]


async def test_rooms_are_isolated(rooms: RoomManager) -> None:
    alice = await in_room(rooms, "alice", "one")
    await in_room(rooms, "bob", "two")
    alice.out.clear()
    bob = await in_room(rooms, "carol", "two")
    await bob.say("only for two")
    assert alice.out == []


async def test_exit_leaves_the_room_and_shows_the_menu(rooms: RoomManager) -> None:
    alice = await in_room(rooms, "alice", "general")
    bob = await in_room(rooms, "bob", "general")
    alice.out.clear()
    assert await bob.say("exit") == ["* You left general.", *MENU]
    assert alice.out == ["* bob has left general"]


async def test_a_join_is_told_to_the_room(rooms: RoomManager) -> None:
    alice = await in_room(rooms, "alice", "general")
    await in_room(rooms, "bob", "general")
    assert alice.out == ["* bob has joined general"]


async def test_a_closed_session_is_told_to_the_room_as_a_quit(rooms: RoomManager) -> None:
    alice = await in_room(rooms, "alice", "general")
    bob = await in_room(rooms, "bob", "general")
    alice.out.clear()
    await bob.session.close("send queue exceeded")
    assert alice.out == ["* bob has quit (send queue exceeded)"]
    assert list(rooms.snapshot()[0]) == ["alice"]


async def test_help_lists_every_command(rooms: RoomManager) -> None:
    user = await named(rooms, "alice")
    out = await user.say("/help")
    assert out[0] == "Commands"
    for word in ("help", "rooms", "create", "join", "leave", "who", "msg", "me", "nick", "quit"):
        assert any(line.startswith(f"/{word} ") for line in out), word
    assert out[-1] == "Enter your choice:"  # after a command, not the whole menu
    assert not any(line.endswith(":") for line in out[:-1])
    starts = {len(line) - len(line.split("  ", 1)[1].lstrip()) for line in out[1:-1]}
    assert len(starts) == 1, "what each command does starts in one aligned column"


async def test_who_lists_the_users_in_the_room(rooms: RoomManager) -> None:
    await in_room(rooms, "bob", "general")
    alice = await in_room(rooms, "Alice", "general")
    assert await alice.say("/who") == ["* Users in general: Alice, @bob"]  # @: it made the room


async def test_who_in_the_menu_lists_everyone_online(rooms: RoomManager) -> None:
    await in_room(rooms, "bob", "general")
    alice = await named(rooms, "alice")
    assert await alice.say("/who") == ["* Users online (2): alice, bob", "Enter your choice:"]
    assert await alice.say("/users") == ["* Users online (2): alice, bob", "Enter your choice:"]


async def test_msg_reaches_only_its_target_in_both_forms(rooms: RoomManager) -> None:
    alice = await in_room(rooms, "alice", "general")
    bob = await named(rooms, "bob")
    carol = await in_room(rooms, "carol", "general")
    for user in (alice, bob, carol):
        user.out.clear()
    assert await alice.say("/msg BOB psst, hi") == [f"[{HHMM}] -> *bob* psst, hi"]
    assert bob.out == [f"[{HHMM}] *alice* psst, hi"]
    assert carol.out == []


async def test_msg_to_nobody_or_without_text_is_an_error(rooms: RoomManager) -> None:
    alice = await in_room(rooms, "alice", "general")
    assert await alice.say("/msg ghost boo") == ['! No user named "ghost".']
    assert await alice.say("/msg alice") == ["! Usage: /msg NAME TEXT"]


async def test_me_is_an_action_to_the_room(rooms: RoomManager) -> None:
    alice = await in_room(rooms, "alice", "general")
    bob = await in_room(rooms, "bob", "general")
    alice.out.clear()
    assert await bob.say("/me waves") == [f"[{HHMM}] * bob waves"]
    assert alice.out == [f"[{HHMM}] * bob waves"]


async def test_nick_renames_and_tells_the_room(rooms: RoomManager) -> None:
    alice = await in_room(rooms, "alice", "general")
    bob = await in_room(rooms, "bob", "general")
    alice.out.clear()
    assert await bob.say("/nick robert") == ["* bob is now known as robert"]
    assert alice.out == ["* bob is now known as robert"]
    assert await bob.say("/nick alice") == ['! The name "alice" is taken.']
    assert sorted(rooms.snapshot()[0]) == ["alice", "robert"]


async def test_nick_in_the_menu_confirms_and_frees_the_old_name(rooms: RoomManager) -> None:
    bob = await named(rooms, "bob")
    assert await bob.say("/nick Bobby") == ["* You are now known as Bobby.", "Enter your choice:"]
    new_bob = await named(rooms, "bob")
    assert await new_bob.say("/users") == ["* Users online (2): bob, Bobby", "Enter your choice:"]


async def test_create_and_join_commands_move_between_rooms(rooms: RoomManager) -> None:
    alice = await in_room(rooms, "alice", "one")
    bob = await in_room(rooms, "bob", "one")
    alice.out.clear()
    await bob.say("/create two")
    assert alice.out == ["* bob has left one"]
    assert await bob.say("/join one") == [
        "Joined room [one]. Type 'exit' to leave, /help for commands.",
        "* Users in one: @alice, bob",
    ]
    assert await rooms.listing() == [("one", 2)]
    assert await bob.say("/join one") == ["! You are already in one."]


async def test_leave_command_leaves_the_room(rooms: RoomManager) -> None:
    alice = await in_room(rooms, "alice", "one")
    assert await alice.say("/leave") == ["* You left one.", *MENU]
    assert await alice.say("/leave") == ["! You are not in a room.", "Enter your choice:"]


async def test_quit_says_goodbye_and_tells_the_room(rooms: RoomManager) -> None:
    alice = await in_room(rooms, "alice", "one")
    bob = await in_room(rooms, "bob", "one")
    alice.out.clear()
    assert await bob.say("/quit") == ["Goodbye!"]
    assert alice.out == ["* bob has quit"]


async def test_an_unknown_command_is_an_error(rooms: RoomManager) -> None:
    alice = await in_room(rooms, "alice", "one")
    assert await alice.say("/dance now") == ["! Unknown command /dance. Type /help."]


async def test_a_double_slash_sends_the_rest_as_chat(rooms: RoomManager) -> None:
    alice = await in_room(rooms, "alice", "one")
    assert await alice.say("//help me") == [f"[{HHMM}] <alice> /help me"]


async def test_commands_usage_errors_name_the_usage(rooms: RoomManager) -> None:
    alice = await in_room(rooms, "alice", "one")
    assert await alice.say("/join") == ["! Usage: /join NAME [KEY]"]
    assert await alice.say("/me") == ["! Usage: /me TEXT"]


async def test_commands_are_not_read_at_the_name_prompt(rooms: RoomManager) -> None:
    user = User(rooms)
    out = await user.say("/help")
    assert out[0].startswith('! Invalid name "/help"')
    assert user.session.state is State.NAME


@pytest.mark.parametrize("line", ["/quit", " /QUIT ", "/quit bye"])
async def test_quit_at_the_name_prompt_says_goodbye_and_closes(
    rooms: RoomManager, line: str
) -> None:
    user = User(rooms)
    user.session.start()
    assert await user.say(line) == ["Goodbye!"]
    assert user.session.state is State.CLOSED
    assert rooms.snapshot() == ({}, {})


async def test_control_characters_never_reach_another_user(rooms: RoomManager) -> None:
    alice = await in_room(rooms, "alice", "one")
    bob = await in_room(rooms, "bob", "one")
    alice.out.clear()
    await bob.say("\x1b[2J\x1b]0;pwned\x07hi\x00\x7f\x9b31m there\r")
    assert alice.out == [f"[{HHMM}] <bob> hi there"]


async def test_blank_chat_lines_are_ignored(rooms: RoomManager) -> None:
    alice = await in_room(rooms, "alice", "one")
    assert await alice.say("", "   ") == []


async def test_a_bug_in_a_command_is_an_internal_error_that_closes_only_that_session(
    rooms: RoomManager, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from doors.text.commands import COMMANDS
    from doors.text.conversation import Command, Conversation

    def broken(s: Conversation, arg: str) -> None:
        raise RuntimeError("bug")

    monkeypatch.setitem(COMMANDS, "who", Command("/who", broken))
    alice = await in_room(rooms, "alice", "one")
    bob = await in_room(rooms, "bob", "one")
    assert await bob.say("/who") == ["! Internal error."]
    assert bob.session.state is State.CLOSED
    assert [r.levelname for r in caplog.records if r.exc_info] == ["ERROR"]
    assert "(bob) session failed" in caplog.text
    caplog.clear()  # the one error this test expects
    alice.out.clear()
    await alice.say("still here")
    assert alice.out == [f"[{HHMM}] <alice> still here"]


async def test_whois_says_which_name_is_the_login_name_after_a_rename(
    rooms: RoomManager,
) -> None:
    await in_room(rooms, "alice", "general", peer="127.0.0.1:4000")
    bob = await in_room(rooms, "bob", "general", peer="127.0.0.1:4001")
    await bob.say("/nick robert")
    first, rooms_line = await bob.say("/whois robert")
    since = time.strftime("%Y-%m-%d %H:%M", time.localtime(NOON))
    assert first == (
        f"* robert (login name ~bob, from 127.0.0.1) is on the text door, online since {since}"
    )
    assert rooms_line == "* robert is in: general"


async def test_whois_marks_the_rooms_where_a_user_is_operator_or_voiced(
    rooms: RoomManager,
) -> None:
    alice = await in_room(rooms, "alice", "general")
    await in_room(rooms, "bob", "general")
    assert (await alice.say("/whois alice"))[1] == "* alice is in: @general"
    assert (await alice.say("/whois bob"))[1] == "* bob is in: general"
    await alice.say("/voice bob")
    assert (await alice.say("/whois bob"))[1] == "* bob is in: +general"
    await alice.say("/op bob")
    assert (await alice.say("/whois bob"))[1] == "* bob is in: @general"  # @ before +


async def test_away_says_whether_the_user_was_away(rooms: RoomManager) -> None:
    alice = await named(rooms, "alice")
    assert await alice.say("/away") == ["* You are not marked as away.", "Enter your choice:"]
    assert await alice.say("/away lunch") == [
        "* You are now marked as away.",
        "Enter your choice:",
    ]
    assert await alice.say("/away") == [
        "* You are no longer marked as away.",
        "Enter your choice:",
    ]
