"""IRC commands that ask about the server itself: LUSERS, MOTD, TIME, VERSION, ADMIN,
INFO, LINKS. There is one server, so a target names it or is refused (402).
Replies only; nothing here changes the registry.
"""

from __future__ import annotations

import importlib.metadata
import time
import tomllib
from pathlib import Path

from doors.irc.client import IrcClient
from doors.irc.message import Message
from doors.irc.queries import require_this_server
from doors.irc.who import mask_matcher

# In a checkout, pyproject.toml is two folders above this file's folder (doors/irc/).
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def version(pyproject: Path = PYPROJECT) -> str:
    """chatroom's version, written once: `version` in pyproject.toml. In a checkout
    (installed for development or not) it is read from that file, which is never stale;
    in an installed copy, which has no such file, from the installed metadata."""
    try:
        with pyproject.open("rb") as file:
            project = tomllib.load(file).get("project", {})
        if project.get("name") == "chatroom" and isinstance(project.get("version"), str):
            return str(project["version"])
    except (OSError, tomllib.TOMLDecodeError):
        pass
    try:
        return importlib.metadata.version("chatroom")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


VERSION = f"chatroom-{version()}"  # in 002, 004, VERSION (351), ADMIN and INFO


def _target(s: IrcClient, msg: Message) -> None:
    if msg.params:
        require_this_server(s, msg.params[0])


def on_lusers(s: IrcClient, msg: Message) -> None:
    """LUSERS: how many users and channels there are."""
    users, here, others, opers = s.rooms.census()  # counted as users come and go
    rooms = s.rooms.room_count()
    s.numeric("251", f"There are {users} users and 0 invisible on {len(others) + 1} servers")
    s.numeric("252", str(opers), "operator(s) online")
    s.numeric("254", str(rooms), "channels formed")
    s.numeric("255", f"I have {here} clients and {len(others)} servers")
    top = max(s.door.max_users, here)
    s.numeric("265", str(here), str(top), f"Current local users {here}, max {top}")
    most = max(s.door.max_global, users)
    s.numeric("266", str(users), str(most), f"Current global users {users}, max {most}")


def on_motd(s: IrcClient, msg: Message) -> None:
    """MOTD: the message of the day (--motd)."""
    _target(s, msg)
    motd = s.config.motd
    if not motd:
        s.numeric("422", "MOTD File is missing")
        return
    s.numeric("375", f"- {s.door.name} Message of the day - ")
    for text in motd:
        s.numeric("372", f"- {text}")
    s.numeric("376", "End of /MOTD command.")


def on_time(s: IrcClient, msg: Message) -> None:
    """TIME [server]: the server's clock, in UTC."""
    _target(s, msg)
    now = time.gmtime(s.rooms.clock())
    s.numeric("391", s.door.name, time.strftime("%A %B %d %Y -- %H:%M:%S +00:00", now))


def on_version(s: IrcClient, msg: Message) -> None:
    """VERSION [server]: the software's version, then what it supports (005)."""
    _target(s, msg)
    s.numeric("351", VERSION, s.door.name, "chatroom's IRC door")
    s.send_isupport()


def on_admin(s: IrcClient, msg: Message) -> None:
    """ADMIN [server]: who runs the server."""
    _target(s, msg)
    s.numeric("256", s.door.name, "Administrative info")
    s.numeric("257", s.config.irc_server_info)
    s.numeric("258", f"Running {VERSION}")
    s.numeric("259", "No administrator address is configured")


def on_info(s: IrcClient, msg: Message) -> None:
    """INFO [server]: what the server is and how long it has run."""
    _target(s, msg)
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(s.rooms.started))
    up_s = int(s.rooms.clock() - s.rooms.started)
    for text in (
        f"{VERSION}: a terminal chat server in pure Python,",
        "with a text door and an IRC door over one set of rooms.",
        f"Up since {started} ({up_s // 86400} days, {up_s % 86400 // 3600} hours).",
    ):
        s.numeric("371", text)
    s.numeric("374", "End of /INFO list")


def on_links(s: IrcClient, msg: Message) -> None:
    """LINKS [[server] mask]: the servers of the network: this one."""
    if len(msg.params) > 1:
        require_this_server(s, msg.params[0])
    mask = msg.params[-1] if msg.params else "*"
    if mask_matcher(mask)(s.door.name):
        s.numeric("364", s.door.name, s.door.name, f"0 {s.config.irc_server_info}")
    s.numeric("365", mask, "End of /LINKS list")
