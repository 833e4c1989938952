"""Accounts on the IRC door, socket-free: SASL PLAIN and SCRAM-SHA-256 in 400-byte
chunks, `PASS account:password`, draft/account-registration, owned nicks (433 at
registration, FAIL NICK NICKNAME_RESERVED later), account-notify, account-tag,
extended-join, WHOIS 330 and WHOX %a, and the debug log's redaction."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TypeVar

import pytest

from config.settings import Config
from doors.irc.door import _redact_secrets as redact
from doors.irc.door import _redact_sent as redact_sent
from doors.irc.session import IrcDoor
from registry.accounts import Accounts
from rooms import RoomManager
from tests.rigs.irc import ScramClient
from tests.unit.test_irc_core import Client, numerics, registered

T = TypeVar("T")


async def inline(work: Callable[[], T]) -> T:
    return work()


@pytest.fixture
def rooms() -> RoomManager:
    accounts = Accounts(run_slow=inline, iterations=4096)
    return RoomManager(defer=lambda flush: flush(), accounts=accounts)


@pytest.fixture
def door(rooms: RoomManager) -> IrcDoor:
    return IrcDoor(rooms, Config(irc_server_name="irc.test"))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def with_account(rooms: RoomManager, name: str = "alice", password: str = "sesame") -> None:
    await rooms.accounts.register(name, password, "10.0.0.9")


async def sasl_start(door: IrcDoor, mechanism: str, nick: str = "someone") -> Client:
    client = Client(door)
    await client.send("CAP LS 302", "CAP REQ :sasl", f"NICK {nick}", "USER u 0 * :Real Name")
    assert await client.send(f"AUTHENTICATE {mechanism}") == [":irc.test AUTHENTICATE +"]
    return client


# --- CAP ---


async def test_cap_ls_302_names_the_mechanisms_and_registration_before_connect(
    door: IrcDoor,
) -> None:
    out = await Client(door).send("CAP LS 302")
    words = out[0].split(" :", 1)[1].split()
    assert "sasl=PLAIN,SCRAM-SHA-256" in words
    assert "draft/account-registration=before-connect" in words
    assert {"account-notify", "account-tag", "extended-join"} <= set(words)
    plain = (await Client(door).send("CAP LS"))[0].split(" :", 1)[1].split()
    assert "sasl" in plain and "draft/account-registration" in plain  # no values before 302


async def test_registration_closed_is_not_advertised() -> None:
    rooms = RoomManager(accounts=Accounts(registration_open=False))
    door = IrcDoor(rooms, Config(irc_server_name="irc.test"))
    out = await Client(door).send("CAP LS 302")
    assert "account-registration" not in out[0]


# --- SASL PLAIN ---


async def test_sasl_plain_logs_in_before_registration_and_the_nick_is_the_accounts(
    door: IrcDoor, rooms: RoomManager
) -> None:
    await with_account(rooms)
    client = await sasl_start(door, "PLAIN", nick="alice")
    out = await client.send("AUTHENTICATE " + b64(b"\0alice\0sesame"))
    assert out == [
        ":irc.test 900 alice alice!~u@localhost alice :You are now logged in as alice",
        ":irc.test 903 alice :SASL authentication successful",
    ]
    out = await client.send("CAP END")
    assert numerics(out)[0] == "001"
    member = rooms.find("alice")
    assert member is not None and member.account == "alice"


async def test_sasl_plain_with_a_wrong_password_is_904_and_may_be_tried_again(
    door: IrcDoor, rooms: RoomManager
) -> None:
    await with_account(rooms)
    client = await sasl_start(door, "PLAIN")
    assert numerics(await client.send("AUTHENTICATE " + b64(b"alice\0alice\0nope"))) == ["904"]
    await client.send("AUTHENTICATE PLAIN")
    assert numerics(await client.send("AUTHENTICATE " + b64(b"alice\0alice\0sesame"))) == [
        "900",
        "903",
    ]
    assert numerics(await client.send("AUTHENTICATE PLAIN")) == ["907"]


@pytest.mark.parametrize(
    "payload",
    [b64(b"bob\0alice\0sesame"), b64(b"\0\0sesame"), b64(b"\0alice\0"), "!!!", b64(b"x")],
)
async def test_bad_plain_messages_are_904_without_a_traceback(
    door: IrcDoor, rooms: RoomManager, payload: str
) -> None:
    await with_account(rooms)
    client = await sasl_start(door, "PLAIN")
    assert numerics(await client.send("AUTHENTICATE " + payload)) == ["904"]
    assert not client.session.closing


async def test_a_message_in_400_byte_chunks_and_one_of_exactly_400_then_plus(
    door: IrcDoor, rooms: RoomManager
) -> None:
    for password in ("bar" * 100, "bar" * 97):  # 400+ bytes of base64; exactly 400
        await with_account(rooms, "foo" + str(len(password)), password)
        name = "foo" + str(len(password))
        auth = b64(f"{name}\0{name}\0{password}".encode())
        client = await sasl_start(door, "PLAIN")
        out = []
        for i in range(0, len(auth), 400):
            out += await client.send("AUTHENTICATE " + auth[i : i + 400])
        if len(auth) % 400 == 0:
            assert out == []
            out = await client.send("AUTHENTICATE +")
        assert numerics(out) == ["900", "903"]


async def test_too_long_a_chunk_is_905_an_endless_message_904_and_star_aborts_906(
    door: IrcDoor,
) -> None:
    client = await sasl_start(door, "PLAIN")
    assert numerics(await client.send("AUTHENTICATE " + "A" * 401)) == ["905"]
    await client.send("AUTHENTICATE PLAIN")
    out: list[str] = []
    for _ in range(30):
        out += await client.send("AUTHENTICATE " + "A" * 400)
    assert numerics(out)[0] == "904"  # and what follows is no mechanism: 908, 904
    await client.send("AUTHENTICATE PLAIN")
    assert numerics(await client.send("AUTHENTICATE *")) == ["906"]


async def test_an_unknown_mechanism_is_908_with_the_list_then_904(door: IrcDoor) -> None:
    client = Client(door)
    await client.send("CAP LS 302", "CAP REQ :sasl")
    out = await client.send("AUTHENTICATE FOO")
    assert out == [
        ":irc.test 908 * PLAIN,SCRAM-SHA-256 :are available SASL mechanisms",
        ":irc.test 904 * :SASL authentication failed",
    ]


async def test_sasl_after_registration_tells_peers_with_account_notify(
    door: IrcDoor, rooms: RoomManager
) -> None:
    await with_account(rooms, "zed")
    watcher = await registered(door, "watcher", "account-notify")
    plain = await registered(door, "other")
    zed = await registered(door, "guest", "sasl")
    for c in (watcher, plain, zed):
        await c.send("JOIN #room")
    watcher.take(), plain.take()
    await zed.send("AUTHENTICATE PLAIN")
    assert numerics(await zed.send("AUTHENTICATE " + b64(b"zed\0zed\0sesame"))) == ["900", "903"]
    assert watcher.take() == [":guest!~guest@localhost ACCOUNT zed"]
    assert plain.take() == []


# --- SASL SCRAM-SHA-256 ---


async def test_sasl_scram_sha_256_proves_the_password_and_a_wrong_one_is_904(
    door: IrcDoor, rooms: RoomManager
) -> None:
    await with_account(rooms, "Scramtest", "sesame")
    for password, works in (("wrong", False), ("sesame", True)):
        client = await sasl_start(door, "SCRAM-SHA-256")
        scram = ScramClient("Scramtest", password)
        out = await client.send("AUTHENTICATE " + scram.first())
        out = await client.send("AUTHENTICATE " + scram.final(out[0].split()[-1]))
        if not works:
            assert numerics(out) == ["904"]
            continue
        assert out == [f":irc.test AUTHENTICATE {scram.server_final()}"]
        assert numerics(await client.send("AUTHENTICATE +")) == ["900", "903"]


# --- PASS account:password ---


async def test_pass_account_password_logs_in_at_registration(
    door: IrcDoor, rooms: RoomManager
) -> None:
    await with_account(rooms)
    client = Client(door)
    out = await client.send("PASS alice:sesame", "NICK alice", "USER u 0 * :r")
    assert numerics(out)[:2] == ["900", "001"]
    member = rooms.find("alice")
    assert member is not None and member.account == "alice"


async def test_pass_with_a_wrong_account_password_is_464_and_closes(
    door: IrcDoor, rooms: RoomManager
) -> None:
    await with_account(rooms)
    client = Client(door)
    out = await client.send("PASS alice:nope", "NICK alice", "USER u 0 * :r")
    assert numerics(out) == ["464", "Closing"] or out[0].split()[1] == "464"
    assert client.session.closing and rooms.find("alice") is None


# --- Owned nicks ---


async def test_a_registered_nick_is_433_at_registration_without_logging_in(
    door: IrcDoor, rooms: RoomManager
) -> None:
    await with_account(rooms)
    client = Client(door)
    out = await client.send("NICK alice", "USER u 0 * :r")
    assert out == [":irc.test 433 * alice :Nickname is reserved by a different account"]
    assert numerics(await client.send("NICK alice_"))[0] == "001"


async def test_nick_to_a_registered_name_later_is_fail_nickname_reserved(
    door: IrcDoor, rooms: RoomManager
) -> None:
    await with_account(rooms)
    client = await registered(door, "mallory")
    out = await client.send("NICK Alice")
    assert out == [
        ":irc.test FAIL NICK NICKNAME_RESERVED Alice "
        ":That nickname is reserved by a different account"
    ]
    assert rooms.find("mallory") is not None


# --- draft/account-registration ---


async def test_register_star_registers_the_nick_and_logs_in(
    door: IrcDoor, rooms: RoomManager
) -> None:
    client = await registered(door, "bar")
    out = await client.send("REGISTER * * shivarampassphrase")
    assert out == [
        ":irc.test REGISTER SUCCESS bar :Account created",
        ":irc.test 900 bar bar!~bar@localhost bar :You are now logged in as bar",
    ]
    member = rooms.find("bar")
    assert member is not None and member.account == "bar"
    assert rooms.accounts.find("BAR") is not None
    out = await client.send("REGISTER * * again")
    assert out[0].startswith(":irc.test FAIL REGISTER ALREADY_AUTHENTICATED bar ")


async def test_register_refusals(door: IrcDoor, rooms: RoomManager) -> None:
    client = await registered(door, "bar")
    out = await client.send("REGISTER foo * pw")
    assert out[0].startswith(":irc.test FAIL REGISTER ACCOUNT_NAME_MUST_BE_NICK foo ")
    await with_account(rooms, "taken")
    await client.send("NICK tAken")  # refused: reserved
    other = await registered(door, "holder")
    early = Client(door)
    await early.send("CAP LS 302", "NICK holder")
    out = await early.send("REGISTER * * pw")
    assert out[0].startswith(":irc.test FAIL REGISTER ACCOUNT_EXISTS holder ")
    assert other.session.member is not None
    fresh = Client(door)
    out = await fresh.send("CAP LS 302", "REGISTER * * pw")
    assert out[-1].startswith(":irc.test FAIL REGISTER NEED_NICK * ")
    out = await client.send("REGISTER * * :")
    assert out[0].startswith(":irc.test FAIL REGISTER UNACCEPTABLE_PASSWORD bar ")
    out = await client.send("VERIFY bar 1234")
    assert out[0].startswith(":irc.test FAIL VERIFY INVALID_CODE bar ")


async def test_register_before_connect_then_the_welcome_is_logged_in(
    door: IrcDoor, rooms: RoomManager
) -> None:
    client = Client(door)
    await client.send("CAP LS 302", "NICK bar")
    out = await client.send("REGISTER * * shivarampassphrase")
    assert numerics(out) == ["REGISTER", "900"]
    out = await client.send("USER u 0 * :r", "CAP END")
    assert numerics(out)[0] == "001"
    member = rooms.find("bar")
    assert member is not None and member.account == "bar"


# --- What others see: extended-join, account-tag, WHOIS, WHOX ---


async def test_extended_join_account_tag_whois_and_whox(door: IrcDoor, rooms: RoomManager) -> None:
    watcher = await registered(door, "watcher", "extended-join", "account-tag")
    await watcher.send("JOIN #room")
    alice = await registered(door, "alice2")
    await alice.send("REGISTER * * sesame")
    await alice.send("JOIN #room")
    assert watcher.take() == [":alice2!~alice2@localhost JOIN #room alice2 alice2"]
    anon = await registered(door, "anon")
    await anon.send("JOIN #room")
    assert watcher.take() == [":anon!~anon@localhost JOIN #room * anon"]
    await alice.send("PRIVMSG #room :hello")
    assert watcher.take() == ["@account=alice2 :alice2!~alice2@localhost PRIVMSG #room hello"]
    await anon.send("PRIVMSG #room :hi")
    assert watcher.take() == [":anon!~anon@localhost PRIVMSG #room hi"]
    out = await watcher.send("WHOIS alice2")
    assert ":irc.test 330 watcher alice2 alice2 :is logged in as" in out
    assert "330" not in numerics(await watcher.send("WHOIS anon"))
    out = await watcher.send("WHO #room %na")
    assert ":irc.test 354 watcher alice2 alice2" in out
    assert ":irc.test 354 watcher anon 0" in out


# --- The debug log ---


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"AUTHENTICATE amlsbGVzAGppbGxlcwBzZXNhbWU=", b"AUTHENTICATE <payload>"),
        (b"@label=x authenticate +", b"AUTHENTICATE <payload>"),
        (b"AUTHENTICATE SCRAM-SHA-256", b"AUTHENTICATE SCRAM-SHA-256"),  # no secret
        (b"authenticate plain", b"AUTHENTICATE plain"),
        (b"REGISTER * * hunter2", b"REGISTER <redacted>"),
        (b"REGISTER :hunter2", b"REGISTER <redacted>"),
        (b"PASS alice:hunter2", b"PASS <password>"),
    ],
)
def test_sasl_and_registration_lines_are_redacted(raw: bytes, shown: bytes) -> None:
    assert redact(raw) == shown


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        (":irc.test AUTHENTICATE cj1jbGllbnRub25jZQ==", ":irc.test AUTHENTICATE <payload>"),
        ("@label=x :irc.test AUTHENTICATE dj1zaWc=", "@label=x :irc.test AUTHENTICATE <payload>"),
        (":irc.test AUTHENTICATE +", ":irc.test AUTHENTICATE +"),
        (":irc.test 903 alice :SASL authentication successful", None),
        (":bob!~b@h PRIVMSG alice :AUTHENTICATE x", None),
    ],
)
def test_the_servers_sasl_messages_are_redacted(sent: str, shown: str | None) -> None:
    """SCRAM's server messages (salt, rounds, the server's signature) would let whoever
    reads the debug log try passwords offline."""
    assert redact_sent(sent) == (sent if shown is None else shown)


async def test_an_invitation_carries_the_inviters_account_tag(
    door: IrcDoor, rooms: RoomManager
) -> None:
    foo = await registered(door, "foo", "account-tag")
    bar = await registered(door, "bar")
    await bar.send("REGISTER * * sesame", "JOIN #chan")
    await bar.send("INVITE foo #chan")
    assert foo.take() == ["@account=bar :bar!~bar@localhost INVITE foo #chan"]
