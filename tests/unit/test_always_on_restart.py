"""An always-on user across a restart, without sockets: what the account keeps of its
user (registry/presence.py), written when it changes and coalesced, cleared when it
quits for good; and the user brought back at start-up from the database, in its rooms,
away, silent, with no status it was not given by a registered room."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from registry import Event, Member
from registry.accounts import Accounts
from registry.presence import PRESENT, Presence, Presences, presence_of
from rooms import ALWAYS_ON_AWAY, RoomManager
from store.sqlite import SqliteHistory, open_history
from tests.unit.test_markers import Store

T = TypeVar("T")
PASSWORD = "sesame"


async def inline(work: Callable[[], T], /) -> T:
    return work()


def quiet(data: bytes) -> None:
    pass


def render(event: Event) -> bytes:
    return type(event).__name__.encode()


class Run:
    """One run of the server's registry on the database at `path` (its start-up's
    order: rooms, accounts, bans, then the always-on users)."""

    def __init__(self, path: Path, *, always_on_default: bool = False) -> None:
        self.history: SqliteHistory = open_history(str(path), recent=5, retention_s=0)
        accounts = Accounts(run_slow=inline, iterations=4096)
        self.rooms = RoomManager(history=self.history, accounts=accounts, replay_lines=5)
        self.rooms.always_on_default = always_on_default
        self.rooms.attach_history(self.history)
        self.rooms.attach_accounts(self.history)
        self.rooms.attach_bans(self.history)
        self.back = self.rooms.restore_always_on()

    async def login(self, account: str) -> Member:
        member, device = await self.rooms.log_in_as(account, quiet, render, host="192.0.2.9")
        assert device is None
        return member

    async def stop(self) -> None:
        """As the server stops: the connections go, then what changed is written."""
        for member in self.rooms.users():
            if self.rooms.connected(member):
                await self.rooms.disconnect(member, None, "Server stopping")
        self.rooms.markers.close()
        self.rooms.presences.close()
        await self.history.aclose()


def stored(path: Path, account: str) -> object:
    """What the database keeps as the account's presence (None: nothing)."""
    with contextlib.closing(sqlite3.connect(path)) as con:
        row = con.execute("SELECT settings FROM accounts WHERE key = ?", (account,)).fetchone()
    return json.loads(row[0]).get(PRESENT)


async def always_on_bob(run: Run) -> Member:
    await run.rooms.accounts.register("bob", PASSWORD, "192.0.2.1")
    bob = await run.login("bob")
    run.rooms.set_always_on(bob, True)
    return bob


async def test_an_always_on_user_is_back_after_a_restart_in_its_rooms_away_and_silent(
    tmp_path: Path,
) -> None:
    db = tmp_path / "chat.db"
    first = Run(db)
    alice = await first.rooms.claim("alice", quiet, render)
    den = await first.rooms.create(alice, "Den")
    bob = await always_on_bob(first)
    attic = await first.rooms.create(bob, "attic")
    await first.rooms.join(bob, "den")
    attic.say(bob, "kept")
    await first.rooms.rename(bob, "Bobby")
    await first.rooms.disconnect(bob, None, "gone")  # stays: written now
    account = first.rooms.accounts.find("bob")
    assert account is not None and not first.rooms.presences._dirty
    assert account.settings[PRESENT]["rooms"] == ["attic", "Den"]  # not a second later
    await first.stop()
    assert stored(db, "bob") == {"name": "Bobby", "rooms": ["attic", "Den"], "user": "",
                                 "host": "192.0.2.9", "realname": ""}  # fmt: skip
    assert den.members  # alice was still there when it stopped

    second = Run(db)
    assert second.back == 1
    rooms = second.rooms
    back = rooms.find("bobby")
    assert back is not None and back.account == "bob" and not rooms.connected(back)
    assert back.away == ALWAYS_ON_AWAY and back.mask == "Bobby!~Bobby@192.0.2.9"
    assert [room.name for room in back.rooms] == ["attic", "Den"]
    for room in back.rooms:
        assert list(room.members) == [back] and not room.ops and not room.pending
    assert [e.text for e in rooms.room("attic").replay(5)] == ["kept"]  # type: ignore[union-attr]
    assert rooms.find("alice") is None and rooms.users() == [back]
    # A login takes it over, as _connect_again does.
    again = await second.login("bob")
    assert again is back and rooms.connected(back) and back.away == ""
    await second.stop()


async def test_a_registered_rooms_access_gives_its_status_back_and_nothing_else_does(
    tmp_path: Path,
) -> None:
    db = tmp_path / "chat.db"
    first = Run(db)
    bob = await always_on_bob(first)
    await first.rooms.create(bob, "owned")
    first.rooms.register_room(bob, "owned")
    await first.rooms.create(bob, "plain")  # its maker, an operator: not kept
    assert all(bob in room.ops for room in bob.rooms)
    await first.stop()

    second = Run(db)
    back = second.rooms.find("bob")
    assert back is not None
    owned, plain = second.rooms.room("owned"), second.rooms.room("plain")
    assert owned is not None and plain is not None
    assert back in owned.ops and not plain.ops
    assert not owned.pending and not [e for e in owned.recent if "Mode" in type(e).__name__]
    await second.stop()


async def test_turned_off_or_quit_for_good_it_is_not_back(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    first = Run(db)
    bob = await always_on_bob(first)
    await first.rooms.create(bob, "attic")
    first.rooms.presences.save()
    first.rooms.set_always_on(bob, False)
    await first.stop()  # not always on: it quits
    assert stored(db, "bob") is None

    second = Run(db)
    assert second.back == 0 and second.rooms.find("bob") is None
    bob = await second.login("bob")
    second.rooms.set_always_on(bob, True)
    await second.rooms.create(bob, "attic")
    oper = await second.rooms.claim("root", quiet, render)
    oper.oper = "root"
    second.rooms.presences.save()
    assert bob.account and second.rooms.accounts.find("bob").settings[PRESENT]  # type: ignore[union-attr]
    second.rooms.kill(oper, "bob", "enough")  # a kill: gone for good
    await second.stop()
    assert stored(db, "bob") is None
    assert Run(db).rooms.find("bob") is None


async def test_a_server_ban_or_a_logout_clears_it(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    first = Run(db)
    bob = await always_on_bob(first)
    await first.rooms.accounts.register("carol", PASSWORD, "192.0.2.1")
    carol = await first.login("carol")
    first.rooms.set_always_on(carol, True)
    oper = await first.rooms.claim("root", quiet, render)
    oper.oper = "root"
    first.rooms.presences.save()
    assert first.rooms.accounts.find("carol").settings[PRESENT]  # type: ignore[union-attr]
    first.rooms.server_ban(oper, "a:bob", "spam")
    first.rooms.log_out(carol)
    await first.stop()
    assert stored(db, "bob") is None and stored(db, "carol") is None
    assert bob.rooms == {}


async def test_the_servers_default_turned_off_leaves_it_out_and_clears_it(
    tmp_path: Path,
) -> None:
    db = tmp_path / "chat.db"
    first = Run(db, always_on_default=True)
    await first.rooms.accounts.register("bob", PASSWORD, "192.0.2.1")
    bob = await first.login("bob")  # has not chosen: the default holds
    await first.rooms.create(bob, "attic")
    await first.stop()
    assert stored(db, "bob") is not None

    second = Run(db)  # the default is off now
    assert second.back == 0 and second.rooms.find("bob") is None
    await second.stop()
    assert stored(db, "bob") is None


async def test_a_name_taken_at_start_up_falls_back_to_the_accounts(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    first = Run(db)
    for name in ("bob", "carol"):
        await first.rooms.accounts.register(name, PASSWORD, "192.0.2.1")
    bob = await first.login("bob")
    first.rooms.set_always_on(bob, True)
    await first.rooms.rename(bob, "Zed")
    carol = await first.login("carol")
    first.rooms.set_always_on(carol, True)
    await first.stop()
    # As if carol had been renamed Zed too (two presences under one name: a damaged file).
    with contextlib.closing(sqlite3.connect(db)) as con:
        row = con.execute("SELECT settings FROM accounts WHERE key = 'carol'").fetchone()
        settings = json.loads(row[0])
        settings[PRESENT]["name"] = "Zed"
        con.execute("UPDATE accounts SET settings = ? WHERE key = 'carol'", (json.dumps(settings),))
        con.commit()
    second = Run(db)
    assert second.back == 2
    names = {member.account: member.name for member in second.rooms.users()}
    assert names == {"bob": "Zed", "carol": "carol"}
    await second.stop()
    assert stored(db, "carol")["name"] == "carol"  # type: ignore[index]


def test_a_malformed_presence_is_none() -> None:
    good = Presence("bob", ("a", "b"), "~bob", "h", "Bob")
    assert presence_of({PRESENT: good.value()}) == good
    bads: list[object] = [
        None, [], {"name": ""}, {"name": "bob"}, {"name": "bob", "rooms": [1]},
        {"name": "bob", "rooms": ["a"], "user": 3}, {"name": 5, "rooms": []},
    ]  # fmt: skip
    for bad in bads:
        assert presence_of({PRESENT: bad}) is None


async def test_changes_are_coalesced_and_an_unchanged_presence_is_not_written_again() -> None:
    store = Store()
    accounts = Accounts(store, run_slow=inline, iterations=4096)
    account = await accounts.register("bob", PASSWORD, "192.0.2.1")
    store.saved.clear()
    scheduled: list[Callable[[], None]] = []
    now = [Presence("bob")]

    def later(delay_s: float, callback: Callable[[], None]) -> None:
        scheduled.append(callback)

    presences = Presences(accounts, lambda name: now[0], later=later)
    for i in range(50):  # fifty joins in a burst
        now[0] = Presence("bob", tuple(f"r{j}" for j in range(i + 1)))
        presences.changed("bob")
    assert len(scheduled) == 1 and not store.saved
    scheduled.pop()()
    assert len(store.saved) == 1 and len(account.settings[PRESENT]["rooms"]) == 50
    presences.changed("BOB")
    scheduled.pop()()
    assert len(store.saved) == 1  # nothing changed: nothing written
    now[0] = None  # type: ignore[call-overload]
    presences.changed("bob")
    presences.save("bob")  # at once
    assert len(store.saved) == 2 and PRESENT not in account.settings


@pytest.mark.parametrize("default", [False, True])
async def test_a_guest_or_an_account_not_always_on_schedules_nothing(default: bool) -> None:
    accounts = Accounts(run_slow=inline, iterations=4096)
    await accounts.register("bob", PASSWORD, "192.0.2.1")
    rooms = RoomManager(accounts=accounts)
    rooms.always_on_default = default
    guest = await rooms.claim("guest", quiet, render)
    bob, _ = await rooms.log_in_as("bob", quiet, render)
    await rooms.create(guest, "den")
    await rooms.join(bob, "den")
    assert bool(rooms.presences._dirty) is default
