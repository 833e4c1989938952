"""The registry's parts: the vocabulary every door and port shares.

`rooms.py` (RoomManager) is the registry's front door and the only writer of users,
rooms, membership, modes and what history keeps. This package holds what it is made
of, and these are its public names: the events it publishes (events.py), why it
refuses a change (errors.py), a room and its members (room.py), the rules of modes
and masks (modes.py, masks.py), and the ports it defines for a store (history.py) and
a cluster (relay.py). Doors, stores and the cluster import from here, never the
reverse; nothing here imports a door, a store, the cluster or the network.
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
    NoOutside,
    NoSuchRoom,
    NoSuchUser,
    NotInRoom,
    NotOperator,
    NotThere,
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
    Tagged,
    TopicSet,
    Whispered,
)
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
    "CannotSpeak", "Departed", "Event", "InviteOnly", "Invited", "Joined", "Kicked", "Left",
    "Listed", "Member", "MemberError", "ModeChanged", "Moderated", "NameTaken", "NoOutside",
    "NoSuchRoom", "NoSuchUser", "NotInRoom", "NotOperator", "NotThere", "Noticed", "Quit",
    "ReclaimLimited", "ReclaimRefused", "Reconnected", "Refusal", "RegistryError", "Renamed",
    "Render", "Room", "RoomExists", "RoomFull", "Said", "Tagged", "TooManyInvites",
    "TooManyJoined", "TooManyRooms", "TopicSet", "Whispered", "Write", "ban_masks",
    "is_banned", "is_visible", "key_problem", "shared_rooms",
]  # fmt: skip
