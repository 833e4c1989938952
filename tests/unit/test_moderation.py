"""The registry's moderation rules, driven directly (no door, no socket), and the text
door's moderation commands through its socket-free session."""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import registry as r
from doors.text.session import MENU
from registry.masks import Change
from rooms import RoomManager
from tests.unit.test_session import in_room, named


@pytest.fixture
def rooms() -> RoomManager:
    return RoomManager(
        clock=lambda: 1000.0, defer=lambda flush: flush(), max_list_masks=2, max_invites=1
    )


def nothing(data: bytes) -> None:
    """A member's write that keeps nothing."""


def silent(event: r.Event) -> bytes:
    return b""


async def member(rooms: RoomManager, name: str, host: str = "10.0.0.1") -> r.Member:
    return await rooms.claim(name, nothing, silent, user="~" + name, host=host)


async def room_of(rooms: RoomManager, op: r.Member, *others: r.Member) -> r.Room:
    room = await rooms.create(op, "general")
    for other in others:
        await rooms.join(other, "general")
    return room


async def test_the_admission_rules_in_order_ban_invite_key_limit(rooms: RoomManager) -> None:
    alice, bob = await member(rooms, "alice"), await member(rooms, "bob", "10.0.0.2")
    room = await room_of(rooms, alice)
    rooms.change_modes(alice, room, [Change("+", "b", "bob"), Change("+", "i")])
    with pytest.raises(r.Banned):
        await rooms.join(bob, "general")
    rooms.change_modes(alice, room, [Change("+", "e", "*!*@10.0.0.2")])
    with pytest.raises(r.InviteOnly):
        await rooms.join(bob, "general")
    rooms.change_modes(alice, room, [Change("+", "I", "bob"), Change("+", "k", "pw")])
    with pytest.raises(r.BadKey):
        await rooms.join(bob, "general", key="nope")
    rooms.change_modes(alice, room, [Change("+", "l", "1")])
    with pytest.raises(r.RoomFull):
        await rooms.join(bob, "general", key="pw")
    rooms.change_modes(alice, room, [Change("-", "l")])
    await rooms.join(bob, "general", key="pw")
    assert bob in room.members


async def test_an_operators_invitation_passes_i_k_l_once_but_not_a_ban(
    rooms: RoomManager,
) -> None:
    alice, bob = await member(rooms, "alice"), await member(rooms, "bob", "10.0.0.2")
    room = await room_of(rooms, alice)
    rooms.change_modes(alice, room, [Change("+", "i"), Change("+", "k", "pw")])
    await rooms.invite(alice, "general", "bob")
    assert bob.invites == {room: None} and room.invited == {bob: None}
    await rooms.join(bob, "general")
    assert bob.invites == {} and room.invited == {}
    await rooms.leave(bob, room)
    with pytest.raises(r.InviteOnly):
        await rooms.join(bob, "general", key="pw")
    rooms.change_modes(alice, room, [Change("+", "b", "bob")])
    await rooms.invite(alice, "general", "bob")
    with pytest.raises(r.Banned):
        await rooms.join(bob, "general")


async def test_invitations_and_list_masks_have_limits(rooms: RoomManager) -> None:
    alice = await member(rooms, "alice")
    await member(rooms, "bob")
    await member(rooms, "carol")
    room = await room_of(rooms, alice)
    await rooms.invite(alice, "general", "bob")
    with pytest.raises(r.TooManyInvites):
        await rooms.invite(alice, "general", "carol")
    done, refused = rooms.change_modes(alice, room, [Change("+", "b", m) for m in ("a", "b", "c")])
    assert [c.arg for c in done] == ["a!*@*", "b!*@*"]
    assert refused == [r.Refusal(Change("+", "b", "c"), "list-full", "2")]


async def test_a_user_who_quits_takes_its_invitations_along(rooms: RoomManager) -> None:
    alice, bob = await member(rooms, "alice"), await member(rooms, "bob")
    room = await room_of(rooms, alice)
    await rooms.invite(alice, "general", "bob")
    await rooms.release(bob)
    assert room.invited == {}


async def test_a_banned_member_is_muted_and_renaming_does_not_escape_an_address_ban(
    rooms: RoomManager,
) -> None:
    alice, bob = await member(rooms, "alice"), await member(rooms, "bob", "10.0.0.2")
    room = await room_of(rooms, alice, bob)
    rooms.change_modes(alice, room, [Change("+", "b", "bob")])
    assert room.muted == {bob}
    with pytest.raises(r.BannedHere):
        room.say(bob, "hi")
    await rooms.rename(bob, "robert")
    assert room.muted == set()  # a name ban: the new name is not banned
    room.say(bob, "hi")
    rooms.change_modes(alice, room, [Change("+", "b", "10.0.0.2")])
    await rooms.rename(bob, "rob")
    assert room.muted == {bob}
    rooms.change_modes(alice, room, [Change("+", "v", "rob")])
    room.say(bob, "voiced members speak through a ban")


async def test_a_mute_lets_a_member_in_silent_until_voiced_or_excepted(
    rooms: RoomManager,
) -> None:
    alice, bob = await member(rooms, "alice"), await member(rooms, "bob", "10.0.0.2")
    room = await room_of(rooms, alice)
    done, _ = rooms.change_modes(alice, room, [Change("+", "b", "M:BOB")])
    assert done == [Change("+", "b", "m:BOB!*@*")]  # the prefix in any case
    await rooms.join(bob, "general")  # a mute is no ban: it lets in
    assert room.muted == {bob}
    with pytest.raises(r.Muted):
        room.say(bob, "hi")
    with pytest.raises(r.Muted):
        room.act(bob, "waves")
    rooms.change_modes(alice, room, [Change("+", "v", "bob")])
    room.say(bob, "voiced members speak through a mute")
    rooms.change_modes(alice, room, [Change("-", "v", "bob")])
    rooms.change_modes(alice, room, [Change("+", "e", "m:*!~bob@*")])  # a mute's exception
    assert room.muted == set()
    room.say(bob, "excepted")
    rooms.change_modes(alice, room, [Change("-", "e", "m:*!~bob@*"), Change("+", "e", "bob")])
    assert room.muted == set()  # a plain exception excepts from mutes too
    rooms.change_modes(alice, room, [Change("-", "e", "bob")])
    assert room.muted == {bob}
    rooms.change_modes(alice, room, [Change("-", "b", "m:bob!*@*")])  # removed in any case
    assert room.lists["b"] == [] and room.muted == set()
    room.say(bob, "heard again")


async def test_a_mute_exception_does_not_let_a_banned_user_in(rooms: RoomManager) -> None:
    alice, bob = await member(rooms, "alice"), await member(rooms, "bob", "10.0.0.2")
    room = await room_of(rooms, alice)
    rooms.change_modes(alice, room, [Change("+", "b", "bob"), Change("+", "e", "m:bob")])
    with pytest.raises(r.Banned):
        await rooms.join(bob, "general")
    done, refused = rooms.change_modes(alice, room, [Change("+", "I", "m:bob")])
    assert done == [] and refused[0].why == "bad-mask"


async def test_an_account_mute_silences_the_account_once_it_logs_in(rooms: RoomManager) -> None:
    alice, bob = await member(rooms, "alice"), await member(rooms, "bob", "10.0.0.2")
    room = await room_of(rooms, alice, bob)
    rooms.change_modes(alice, room, [Change("+", "b", "m:a:robert")])
    room.say(bob, "a guest: no account to match")
    rooms.log_in(bob, "robert")
    with pytest.raises(r.Muted):
        room.say(bob, "muted by account")
    rooms.log_out(bob)
    room.say(bob, "a guest again")


async def test_the_last_operator_leaving_promotes_the_longest_present(rooms: RoomManager) -> None:
    alice, bob, carol = [await member(rooms, n) for n in ("alice", "bob", "carol")]
    room = await room_of(rooms, alice, bob, carol)
    rooms.change_modes(alice, room, [Change("+", "o", "carol")])
    await rooms.leave(alice, room)
    assert room.ops == {carol}  # another operator was left: nobody is promoted
    await rooms.leave(carol, room)
    assert room.ops == {bob}


async def test_an_operator_may_leave_a_room_without_operators_by_deopping(
    rooms: RoomManager,
) -> None:
    alice, bob = await member(rooms, "alice"), await member(rooms, "bob")
    room = await room_of(rooms, alice, bob)
    rooms.change_modes(alice, room, [Change("-", "o", "alice")])
    assert room.ops == set()
    with pytest.raises(r.NotOperator):
        rooms.change_modes(bob, room, [Change("+", "o", "bob")])


async def test_kick_checks_membership_status_and_target(rooms: RoomManager) -> None:
    alice, bob, carol = [await member(rooms, n) for n in ("alice", "bob", "carol")]
    room = await room_of(rooms, alice, bob)
    with pytest.raises(r.NotInRoom):
        await rooms.kick(carol, room, "bob")
    with pytest.raises(r.NotOperator):
        await rooms.kick(bob, room, "alice")
    with pytest.raises(r.NoSuchUser):
        await rooms.kick(alice, room, "nobody")
    with pytest.raises(r.NotThere):
        await rooms.kick(alice, room, "carol")
    kicked: list[r.Room] = []
    bob.kicked = kicked.append
    assert await rooms.kick(alice, room, "BOB", "bye") is bob
    assert bob not in room.members and kicked == [room]


# --- The text door's commands (socket-free sessions). ---


async def test_help_lists_the_moderation_commands(rooms: RoomManager) -> None:
    alice = await named(rooms, "alice")
    words = [line.split()[0] for line in (await alice.say("/help"))[1:]]
    for word in ("/op", "/deop", "/voice", "/devoice", "/kick", "/ban", "/unban", "/bans"):
        assert word in words
    assert "/invite" in words and "/mode" in words


async def test_op_voice_and_their_refusals_on_the_text_door(rooms: RoomManager) -> None:
    alice = await in_room(rooms, "alice", "general")
    bob = await in_room(rooms, "bob", "general")
    assert await bob.say("/op bob") == ["! You are not an operator of general."]
    assert await alice.say("/op bob") == ["* alice set mode +o bob on general"]
    assert await alice.say("/op bob") == ["* bob is an operator in general already."]
    assert await bob.say("/voice alice", "/devoice bob", "/who") == [
        "* bob set mode +v alice on general",
        "* bob is not voiced in general already.",
        "* Users in general: @alice, @bob",
    ]
    assert await alice.say("/deop") == ["! Usage: /deop NAME"]
    assert await alice.say("/kick") == ["! Usage: /kick NAME [REASON]"]


async def test_moderation_commands_outside_a_room_say_so(rooms: RoomManager) -> None:
    alice = await named(rooms, "alice")
    assert (await alice.say("/kick bob"))[0] == "! You are not in a room."
    assert (await alice.say("/mode +m"))[0] == "! You are not in a room."


async def test_bans_lists_each_list_and_mode_shows_one_list(rooms: RoomManager) -> None:
    alice = await in_room(rooms, "alice", "general")
    assert await alice.say("/bans") == ["* general has no bans."]
    assert await alice.say("/mode +beI x y z") == [
        "* alice set mode +beI x!*@* y!*@* z!*@* on general"
    ]
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(1000.0))
    assert await alice.say("/bans") == [
        f"* general bans x!*@* (set by alice at {when})",
        f"* general lets y!*@* in despite its bans (+e) (set by alice at {when})",
        f"* general lets z!*@* in without an invitation (+I) (set by alice at {when})",
    ]
    assert await alice.say("/mode +e") == [
        f"* general lets y!*@* in despite its bans (+e) (set by alice at {when})"
    ]
    assert await alice.say("/unban x", "/unban x") == [
        "* alice set mode -b x!*@* on general",
        '! No ban of general matches "x".',
    ]


async def test_a_room_key_never_reaches_the_log(
    rooms: RoomManager, caplog: pytest.LogCaptureFixture
) -> None:
    alice = await member(rooms, "alice")
    room = await room_of(rooms, alice)
    rooms.change_modes(alice, room, [Change("+", "k", "letmein"), Change("+", "l", "5")])
    logged = [record.getMessage() for record in caplog.records]
    assert "alice set mode +kl * 5 on general" in logged
    assert not any("letmein" in text for text in logged)


MASKS = st.sampled_from(
    ["a*", "b*", "*!~a*@*", "*!*@10.0.0.1", "*", "c?", "ab", "m:a*", "m:*!*@10.0.0.2", "m:*"]
)
STEPS = st.lists(
    st.one_of(
        st.tuples(st.sampled_from("+-"), st.sampled_from("be"), MASKS),
        st.tuples(st.just("rename"), st.sampled_from(["ab", "bc", "ca"]), st.sampled_from("abc")),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(STEPS)
def test_who_is_muted_always_equals_who_the_bans_match(steps: list[tuple[str, str, str]]) -> None:
    """The muted set is kept up to date change by change; it must equal the rule (bans
    and mutes, `m:MASK`, with their exceptions)."""

    async def play() -> None:
        rooms = RoomManager(defer=lambda flush: flush())
        op = await member(rooms, "op", "10.0.0.9")
        people = [await member(rooms, n, f"10.0.0.{i}") for i, n in enumerate("abc", 1)]
        room = await room_of(rooms, op, *people)
        for kind, what, arg in steps:
            if kind == "rename":
                who = people["abc".index(arg)]
                if rooms.find(what) is None:
                    await rooms.rename(who, what)
            else:
                rooms.change_modes(op, room, [Change(kind, what, arg)])
            silenced = {m for m in room.members if r.is_banned(room, m) or r.is_muted(room, m)}
            assert room.muted == silenced

    asyncio.run(play())


async def test_an_operator_who_kicks_itself_gets_the_menu_once(rooms: RoomManager) -> None:
    alice = await in_room(rooms, "alice", "general")
    await in_room(rooms, "bob", "general")
    assert await alice.say("/kick alice") == [
        "* alice was kicked from general by alice",
        *MENU,
    ]


async def test_ban_name_bans_the_name_only_not_everyone_at_its_address(
    rooms: RoomManager,
) -> None:
    here = "127.0.0.1:4000"
    alice = await in_room(rooms, "alice", "general", peer=here)
    bob = await in_room(rooms, "bob", "general", peer=here)
    await in_room(rooms, "carol", "general", peer=here)
    alice.out.clear()
    assert await alice.say("/ban carol") == [
        "* alice set mode +b carol!*@* on general",
        "* carol was kicked from general by alice (banned)",
    ]
    hhmm = time.strftime("%H:%M", time.localtime(1000.0))
    assert await bob.say("still here") == [f"[{hhmm}] <bob> still here"]  # not muted
    room = alice.session.room
    assert room is not None and [entry.mask for entry in room.lists["b"]] == ["carol!*@*"]
    dave = await named(rooms, "dave", here)
    assert (await dave.say("/join general"))[0].startswith("Joined room [general]")


async def test_an_address_ban_is_asked_for_by_mask_and_says_whom_it_matches(
    rooms: RoomManager,
) -> None:
    alice = await in_room(rooms, "alice", "general", peer="10.0.0.9:1")
    await in_room(rooms, "bob", "general", peer="127.0.0.1:4001")
    await in_room(rooms, "carol", "general", peer="127.0.0.1:4002")
    alice.out.clear()
    assert await alice.say("/ban *!*@127.0.0.1") == [
        "* alice set mode +b *!*@127.0.0.1 on general",
        "* *!*@127.0.0.1 matches 2 members of general: bob, carol",
    ]
    assert await alice.say("/mode +b bo*") == [  # any ban says whom it matches
        "* alice set mode +b bo*!*@* on general",
        "* bo*!*@* matches 1 member of general: bob",
    ]
    await alice.say("/unban *!*@127.0.0.1")
    assert await alice.say("/mode +b nobody") == ["* alice set mode +b nobody!*@* on general"]


async def test_a_text_operator_mutes_with_ban_m_and_the_muted_user_is_told(
    rooms: RoomManager,
) -> None:
    alice = await in_room(rooms, "alice", "general", peer="10.0.0.9:1")
    bob = await in_room(rooms, "bob", "general", peer="127.0.0.1:4001")
    alice.out.clear()
    assert await alice.say("/ban m:bob") == [  # muted, not kicked
        "* alice set mode +b m:bob!*@* on general",
        "* m:bob!*@* matches 1 member of general: bob",
    ]
    assert (await bob.say("hello?"))[-1] == "! You are muted in general: you may not speak in it."
    assert (await bob.say("/me waves"))[
        -1
    ] == "! You are muted in general: you may not speak in it."
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(1000.0))
    assert (await alice.say("/bans"))[0] == f"* general mutes bob!*@* (m:) (set by alice at {when})"
    await alice.say("/mode +e m:*!*@127.0.0.1")
    assert (await alice.say("/mode +e"))[-1] == (
        f"* general lets *!*@127.0.0.1 speak despite its mutes (+e m:) (set by alice at {when})"
    )
    hhmm = time.strftime("%H:%M", time.localtime(1000.0))
    assert await bob.say("thanks") == [f"[{hhmm}] <bob> thanks"]
    await alice.say("/mode -e m:*!*@127.0.0.1")
    assert await alice.say("/unban bob") == ["* alice set mode -b m:bob!*@* on general"]
    assert await bob.say("free") == [f"[{hhmm}] <bob> free"]


@pytest.mark.parametrize(
    ("line", "usage"),
    [
        ("/mode +k", "/mode +k KEY"),
        ("/mode k", "/mode +k KEY"),
        ("/mode +l", "/mode +l LIMIT"),
        ("/mode +o", "/mode +o NAME"),
        ("/mode -v", "/mode -v NAME"),
        ("/mode +mk", "/mode +k KEY"),
    ],
)
async def test_a_mode_without_its_argument_gets_its_usage_and_changes_nothing(
    rooms: RoomManager, line: str, usage: str
) -> None:
    alice = await in_room(rooms, "alice", "general")
    assert await alice.say(line) == [f"! Usage: {usage}"]
    assert await alice.say("/mode") == ["* Modes of general: +n"]


async def test_every_mode_command_answers(rooms: RoomManager) -> None:
    alice = await in_room(rooms, "alice", "general")
    assert await alice.say("/mode -k") == ["* Nothing to change in general: it is so already."]
    assert await alice.say("/mode +i +m") == ["* alice set mode +im on general"]
    assert await alice.say("/mode +m") == ["* Nothing to change in general: it is so already."]
    assert await alice.say("/mode +k key -i +l 5") == ["* alice set mode +k-i+l key 5 on general"]
    assert await alice.say("/mode -k") == ["* alice set mode -k * on general"]
    assert await alice.say("/mode +n extra") == [
        '! No mode takes "extra". Usage: /mode [+-FLAGS ARGS]'
    ]
    assert await alice.say("/mode") == ["* Modes of general: +lmn 5"]


async def test_mode_b_lists_the_bans_in_the_words_of_bans(rooms: RoomManager) -> None:
    alice = await in_room(rooms, "alice", "general")
    assert await alice.say("/mode +b") == ["* general has no bans."]
    assert await alice.say("/mode +e") == ["* general has no ban exceptions (+e)."]
    assert await alice.say("/mode +I") == ["* general has no invite exceptions (+I)."]
