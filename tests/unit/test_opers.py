"""Server operators, socket-free: the oper table and its password check, the registry's
verbs (make_oper, kill, wallops, the power over a room), both doors' commands and
replies, the options and the config file that name opers, and the redaction of their
passwords from the debug log."""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

import registry as r
import server
from config.options import parse_args
from config.settings import Config
from doors.irc.door import _redact_secrets as irc_redact
from doors.irc.session import IrcDoor
from doors.text.door import _redact_secrets as text_redact
from registry import opers as opers_module
from registry.credentials import ITERATIONS, Credentials, check, derive
from registry.opers import Opers
from rooms import RoomManager
from tests.unit.test_irc_core import numerics, registered
from tests.unit.test_session import in_room, named

T = TypeVar("T")
HASH = derive("s3cret", iterations=4096).encode()


async def inline(work: Callable[[], T]) -> T:
    return work()


def opers(clock: Callable[[], float] = lambda: 1000.0) -> Opers:
    return Opers([("root", "hunter2"), ("Admin", HASH)], clock=clock, run_slow=inline)


@pytest.fixture
def rooms() -> RoomManager:
    return RoomManager(defer=lambda flush: flush(), opers=opers())


@pytest.fixture
def door(rooms: RoomManager) -> IrcDoor:
    return IrcDoor(rooms, Config(irc_server_name="irc.test"))


# --- registry/opers.py ---


async def test_an_oper_is_known_by_its_password_in_clear_or_by_its_hash() -> None:
    table = opers()
    assert await table.verify("root", "hunter2", "10.0.0.1") == "root"
    assert await table.verify("ADMIN", "s3cret", "10.0.0.1") == "Admin"


async def test_an_unknown_oper_and_a_wrong_password_are_told_apart() -> None:
    table = opers()
    with pytest.raises(r.NoOperHost):
        await table.verify("nobody", "hunter2", "10.0.0.1")
    with pytest.raises(r.OperRefused):
        await table.verify("root", "hunter3", "10.0.0.1")


async def test_wrong_tries_are_limited_per_address_even_with_the_right_password() -> None:
    table = opers()
    for _ in range(table.attempts.burst):
        with pytest.raises(r.OperRefused):
            await table.verify("root", "wrong", "10.0.0.1")
    with pytest.raises(r.OperLimited) as limited:
        await table.verify("root", "hunter2", "10.0.0.1")
    assert limited.value.limit > 0
    assert await table.verify("root", "hunter2", "10.0.0.2") == "root"  # another address


async def test_the_password_is_checked_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[threading.Thread] = []
    real = check

    def check_on(password: str, credentials: Credentials) -> bool:
        threads.append(threading.current_thread())
        return real(password, credentials)

    monkeypatch.setattr(opers_module, "check", check_on)
    table = Opers([("root", HASH)], clock=lambda: 0.0)  # the default run_slow: a thread
    assert await table.verify("root", "s3cret", "a") == "root"
    assert threads and threads[0] is not threading.main_thread()


def test_a_plain_password_is_kept_only_as_a_derived_record() -> None:
    table = Opers([("root", "hunter2")], clock=lambda: 0.0)
    assert "hunter2" not in repr(vars(table))
    assert table._table["root"][1].iterations == ITERATIONS


# --- the registry's verbs ---


async def test_kill_and_wallops_need_a_server_operator(rooms: RoomManager) -> None:
    alice = (await named(rooms, "alice")).session.require_member()
    await named(rooms, "bob")
    with pytest.raises(r.NotServerOperator):
        rooms.kill(alice, "bob", "spam")
    with pytest.raises(r.NotServerOperator):
        rooms.wallops(alice, "hi")
    assert rooms.find("bob") is not None


async def test_an_oper_may_set_modes_and_kick_in_a_room_it_does_not_run(
    rooms: RoomManager,
) -> None:
    mallory = await in_room(rooms, "mallory", "lobby")
    alice = await in_room(rooms, "alice", "lobby")
    assert (await alice.say("/kick mallory")) == ["! You are not an operator of lobby."]
    await alice.say("/oper root hunter2")
    out = await alice.say("/op alice")
    assert out == ["* alice set mode +o alice on lobby"]
    await alice.say("/kick mallory taking it back")
    assert mallory.session.room is None


async def test_an_oper_has_no_power_over_a_room_it_is_not_in(rooms: RoomManager) -> None:
    await in_room(rooms, "mallory", "lobby")
    alice = await named(rooms, "alice")
    await alice.say("/oper root hunter2")
    member = alice.session.require_member()
    room = rooms.room("lobby")
    assert room is not None
    assert not rooms.runs(member, room)


# --- the text door ---


async def test_text_oper_with_a_right_and_a_wrong_password(rooms: RoomManager) -> None:
    alice = await in_room(rooms, "alice", "lobby")
    assert await alice.say("/oper") == ["! Usage: /oper NAME PASSWORD"]
    assert await alice.say("/oper root") == ["! Usage: /oper NAME PASSWORD"]
    assert await alice.say("/oper nobody x") == ['! No server operator is named "nobody".']
    assert await alice.say("/oper root x") == ["! Wrong password for server operator root."]
    assert await alice.say("/oper root hunter2") == ["* You are now a server operator."]
    assert await alice.say("/oper root hunter2") == ["* You are a server operator already."]
    assert "* alice is a server operator" in await alice.say("/whois alice")


async def test_text_kill_disconnects_the_user_and_its_room_sees_why(rooms: RoomManager) -> None:
    alice = await in_room(rooms, "alice", "lobby")
    bob = await in_room(rooms, "bob", "lobby")
    assert await alice.say("/kill bob spam") == ["! You are not a server operator."]
    await alice.say("/oper root hunter2")
    bob.out.clear()
    out = await alice.say("/kill bob spam")
    assert out == ["* bob has quit (Killed (alice (spam)))", "* You disconnected bob."]
    assert bob.out == ["! Killed (alice (spam))"]
    assert rooms.find("bob") is None
    assert await alice.say("/kill bob") == ['! No user named "bob".']


async def test_text_wallops_reach_the_opers_and_irc_users_with_w(
    rooms: RoomManager, door: IrcDoor
) -> None:
    alice = await in_room(rooms, "alice", "lobby")
    bob = await named(rooms, "bob")
    carol = await registered(door, "carol")
    dave = await registered(door, "dave")
    await carol.send("MODE carol +w")
    await alice.say("/oper root hunter2")
    assert await alice.say("/wallops") == ["! Usage: /wallops TEXT"]
    bob.out.clear()
    assert await alice.say("/wallops rebooting soon") == ["* Wallops from alice: rebooting soon"]
    assert bob.out == []
    assert carol.take() == [":alice!~alice@- WALLOPS :rebooting soon"]
    assert dave.take() == []


def test_help_lists_the_oper_commands() -> None:
    from doors.text.commands import COMMANDS

    assert {"oper", "kill", "wallops"} <= set(COMMANDS)


# --- the IRC door ---


async def test_irc_oper_gives_381_and_user_mode_o(door: IrcDoor) -> None:
    baz = await registered(door, "baz")
    out = await baz.send("OPER root hunter2")
    assert out == [
        ":baz!~baz@localhost MODE baz +o",
        ":irc.test 381 baz :You are now an IRC operator",
    ]
    assert await baz.send("MODE baz") == [":irc.test 221 baz +o"]


@pytest.mark.parametrize(
    ("command", "code"),
    [("OPER nobody x", "491"), ("OPER root wrong", "464"), ("OPER root", "461")],
)
async def test_irc_oper_refusals(door: IrcDoor, command: str, code: str) -> None:
    baz = await registered(door, "baz")
    assert numerics(await baz.send(command)) == [code]
    assert "o" not in baz.session.require_member().modes


async def test_irc_mode_plus_o_is_ignored_and_minus_o_gives_oper_up(door: IrcDoor) -> None:
    baz = await registered(door, "baz")
    assert await baz.send("MODE baz +o") == []
    await baz.send("OPER root hunter2")
    assert await baz.send("MODE baz -o") == [":baz!~baz@localhost MODE baz -o"]
    member = baz.session.require_member()
    assert member.oper == "" and "o" not in member.modes
    assert numerics(await baz.send("WALLOPS :hi")) == ["481"]


async def test_irc_kill(door: IrcDoor) -> None:
    ircop, alice, bob = [await registered(door, n) for n in ("ircop", "alice", "bob")]
    await alice.send("JOIN #c")
    await bob.send("JOIN #c")
    alice.take()
    assert numerics(await alice.send("KILL bob :nope")) == ["481"]
    assert numerics(await ircop.send("KILL")) == ["461"]
    await ircop.send("OPER root hunter2")
    assert numerics(await ircop.send("KILL nobody :x")) == ["401"]
    assert await ircop.send("KILL bob :some reason") == []
    assert bob.take() == ["ERROR :Closing link: localhost (Killed (ircop (some reason)))"]
    assert bob.session.is_closed and bob.session.member is None
    assert alice.take() == [":bob!~bob@localhost QUIT :Killed (ircop (some reason))"]
    await ircop.send("KILL alice")
    assert alice.take() == ["ERROR :Closing link: localhost (Killed (ircop (no reason)))"]


async def test_irc_wallops_go_to_w_users_and_the_sender(door: IrcDoor) -> None:
    nick1, nick2, nick3 = [await registered(door, n) for n in ("nick1", "nick2", "nick3")]
    await nick3.send("MODE nick3 +w")
    assert numerics(await nick1.send("WALLOPS :hi everyone")) == ["481"]
    await nick1.send("OPER root hunter2")
    assert await nick1.send("WALLOPS :hi everyone") == [
        ":nick1!~nick1@localhost WALLOPS :hi everyone"
    ]
    assert nick3.take() == [":nick1!~nick1@localhost WALLOPS :hi everyone"]
    assert nick2.take() == []


async def test_irc_whois_who_and_lusers_show_opers(door: IrcDoor) -> None:
    nick1, nick2 = [await registered(door, n) for n in ("nick1", "nick2")]
    await nick1.send("OPER root hunter2")
    out = await nick2.send("WHOIS nick1")
    assert ":irc.test 313 nick2 nick1 :is an IRC operator" in out
    who = await nick2.send("WHO nick1")
    assert who[0].split()[8] == "H*"
    away = await nick1.send("AWAY :brb")
    assert away
    assert (await nick2.send("WHO nick1"))[0].split()[8] == "G*"
    assert ":irc.test 252 nick2 1 :operator(s) online" in await nick2.send("LUSERS")
    assert "313" not in numerics(await nick1.send("WHOIS nick2"))


# --- options, the config file, the log ---


def test_oper_options_with_a_password_and_a_hash() -> None:
    config = parse_args(["--oper", "root:hun:ter2", "--oper", f"admin:{HASH}"])
    assert config.opers == (("root", "hun:ter2"), ("admin", HASH))
    assert "hun:ter2" not in repr(config)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("root", "expected NAME:PASSWORD"),
        ("root:", "an empty password"),
        (":x", "one word"),
        ("root:scram-sha-256$1$x$y$z", "not a valid scram-sha-256$ record"),
    ],
)
def test_a_bad_oper_option_is_one_line(
    value: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse_args(["--oper", value])
    assert exit_.value.code == 2
    assert problem in capsys.readouterr().err


def test_the_same_oper_twice_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--oper", "root:a", "--oper", "ROOT:b"])
    assert "the same oper name twice" in capsys.readouterr().err


def test_oper_tables_in_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "chatroom.toml"
    path.write_text(
        '[[oper]]\nname = "root"\npassword = "hunter2"\n\n'
        f'[[oper]]\nname = "admin"\npassword-hash = "{HASH}"\n'
    )
    config = parse_args(["--config", str(path)])
    assert config.opers == (("root", "hunter2"), ("admin", HASH))


@pytest.mark.parametrize(
    "table",
    [
        '[[oper]]\nname = "root"\n',
        '[[oper]]\nname = "root"\npassword = "a"\npassword-hash = "b"\n',
        '[[oper]]\nname = "root"\npassword-hash = "hunter2"\n',
        '[[oper]]\nname = "root"\npasswd = "x"\n',
    ],
)
def test_a_bad_oper_table_is_one_line(
    tmp_path: Path, table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "chatroom.toml"
    path.write_text(table)
    with pytest.raises(SystemExit):
        parse_args(["--config", str(path)])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "oper" in err and "Traceback" not in err


def test_hash_password_prints_a_record_that_oper_takes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("hunter2\n"))
    assert server.main(["--hash-password"]) == 0
    record = capsys.readouterr().out.strip()
    assert "hunter2" not in record
    assert check("hunter2", Credentials.decode(record))
    assert parse_args(["--oper", f"root:{record}"]).opers == (("root", record),)
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n"))
    assert server.main(["--hash-password"]) == 2
    assert capsys.readouterr().err == "server.py: error: an empty password\n"


def test_hash_password_is_a_command_not_a_config_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "chatroom.toml"
    path.write_text("hash-password = true\n")
    with pytest.raises(SystemExit):
        parse_args(["--config", str(path)])
    assert "unknown option 'hash-password'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"OPER root hunter2", b"OPER root <password>"),
        (b"oper root :hunter2 x", b"OPER root <password>"),
        (b"@label=1 OPER root hunter2", b"OPER root <password>"),
        (b"PASS hunter2", b"PASS <password>"),
        (b"PRIVMSG #a :OPER root hunter2", b"PRIVMSG #a :OPER root hunter2"),
    ],
)
def test_the_irc_debug_log_never_shows_an_oper_password(raw: bytes, shown: bytes) -> None:
    assert irc_redact(raw) == shown


def test_the_text_debug_log_never_shows_an_oper_password() -> None:
    assert text_redact(b"/oper root hunter2") == b"/oper root <password>"
    assert text_redact(b"/OPER  root hunter2 x") == b"/OPER root <password>"
    assert text_redact(b"/reclaim alice abc") == b"/reclaim alice <code>"
    assert text_redact(b"hello") == b"hello"
