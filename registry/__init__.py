"""The registry's parts: the vocabulary every door and port shares.

`rooms.py` (RoomManager) is the registry's front door and the only writer of users,
rooms, membership, modes and what history keeps. This package holds what it is made
of, and these are its public names: the events it publishes (events.py), why it
refuses a change (errors.py), a room and its members (room.py), the rules of modes
and masks (modes.py, masks.py), and the ports it defines for a store (history.py) and
a cluster (relay.py). Its inner parts (names.py, reclaim.py) are the registry's own.
Doors, stores and the cluster import from here, never the reverse; nothing here
imports a door, a store, the cluster or the network.
"""

from registry.errors import (
    AlreadyInRoom,
    AlreadyThere,
    BadKey,
    Banned,
    BannedHere,
    CannotSpeak,
    InviteOnly,
    MemberError,
    Moderated,
    NameTaken,
    NoOperHost,
    NoOutside,
    NoSuchRoom,
    NoSuchUser,
    NotInRoom,
    NotOperator,
    NotServerOperator,
    NotThere,
    OperLimited,
    OperRefused,
    ReclaimLimited,
    ReclaimRefused,
    RegistryError,
    RoomExists,
    RoomFull,
    TooManyInvites,
    TooManyJoined,
    TooManyRooms,
)
from registry.events import (
    Acted,
    AwayChanged,
    Event,
    Invited,
    Joined,
    Kicked,
    Left,
    ModeChanged,
    Noticed,
    Quit,
    Reconnected,
    Renamed,
    Said,
    ServerNotice,
    Tagged,
    TopicSet,
    Wallops,
    Whispered,
)
from registry.history import (
    History,
    HistoryUnavailable,
    Keep,
    Kept,
    Query,
    Ref,
    SavedRoom,
    StoreError,
    is_kept,
)
from registry.masks import Change, parse_changes, word_changes
from registry.modes import Refusal, ban_masks, key_problem
from registry.room import (
    Departed,
    Listed,
    Member,
    Render,
    Room,
    Write,
    is_banned,
    is_visible,
    shared_rooms,
)

__all__ = [
    "Acted", "AlreadyInRoom", "AlreadyThere", "AwayChanged", "BadKey", "Banned", "BannedHere",
    "CannotSpeak", "Change", "Departed", "Event", "History", "HistoryUnavailable", "InviteOnly",
    "Invited", "Joined", "Keep", "Kept", "Kicked", "Left", "Listed", "Member", "MemberError",
    "ModeChanged", "Moderated", "NameTaken", "NoOperHost", "NoOutside", "NoSuchRoom", "NoSuchUser",
    "NotInRoom", "NotOperator", "NotServerOperator", "NotThere", "Noticed", "OperLimited",
    "OperRefused", "Query", "Quit", "ReclaimLimited", "ReclaimRefused", "Reconnected", "Ref",
    "Refusal", "RegistryError", "Renamed", "Render", "Room", "RoomExists", "RoomFull", "Said",
    "SavedRoom", "ServerNotice", "StoreError", "Tagged", "TooManyInvites", "TooManyJoined",
    "TooManyRooms", "TopicSet", "Wallops", "Whispered", "Write", "ban_masks", "is_banned",
    "is_kept", "is_visible", "key_problem", "parse_changes", "shared_rooms", "word_changes",
]  # fmt: skip
