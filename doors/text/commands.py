"""The text door's command table: each slash command of docs/protocol.md, its usage
and its handler (chat.py, moderation.py, history.py, opers.py, presence.py).

`/help` prints each usage, in this order, so help cannot drift from the table. The
session (session.py) looks a command up here; `/word` not here is "Unknown command".
"""

from __future__ import annotations

from doors.text import chat, history, moderation, opers, presence
from doors.text.conversation import Command
from registry.history import MAX_FETCH

COMMANDS: dict[str, Command] = {
    "help": Command("/help  list these commands", chat.show_help),
    "rooms": Command("/rooms  list the rooms", chat.list_rooms),
    "create": Command("/create NAME  create a room and join it", chat.create),
    "join": Command("/join NAME [KEY]  join an existing room (KEY: a room with a key)", chat.join),
    "leave": Command("/leave  leave the room (or type exit)", chat.leave),
    "who": Command("/who  list the users in this room (in the menu: everyone)", chat.who),
    "users": Command("/users  list everyone online", chat.users),
    "msg": Command(
        "/msg NAME TEXT  private message to a user (or to NickServ, ChanServ)", chat.msg
    ),
    "me": Command("/me TEXT  act, as in * alice waves", chat.me),
    "topic": Command("/topic [TEXT]  show or set the room's topic", chat.topic),
    "away": Command("/away [TEXT]  mark yourself away (no text: back)", chat.away),
    "whois": Command("/whois NAME  who a user is", chat.whois),
    "watch": Command(
        "/watch [NAME]  hear when NAME comes and goes (alone: your list)", presence.watch
    ),
    "unwatch": Command("/unwatch NAME  stop watching NAME", presence.unwatch),
    "nick": Command("/nick NAME  change your name", chat.nick),
    "quit": Command("/quit  disconnect", chat.quit),
    # Accounts (docs/protocol.md, "Accounts"): shortcuts to /msg NickServ.
    "register": Command(
        "/register PASSWORD  register your name as an account (= /msg NickServ REGISTER)",
        chat.register,
    ),
    "logout": Command("/logout  log out of your account", chat.logout),
    "password": Command("/password OLD NEW  change your account's password", chat.password),
    # Moderation (docs/protocol.md, "Moderation").
    "op": Command("/op NAME  make a member an operator of this room", moderation.op),
    "deop": Command("/deop NAME  take a member's operator status", moderation.deop),
    "voice": Command(
        "/voice NAME  let a member speak when the room is moderated", moderation.voice
    ),
    "devoice": Command("/devoice NAME  take a member's voice", moderation.devoice),
    "kick": Command(
        "/kick NAME [REASON]  put a member out of this room (they may rejoin)", moderation.kick
    ),
    "ban": Command(
        "/ban NAME|MASK  ban a name, or a mask (*!*@ADDRESS: everyone there; m:MASK: mute)",
        moderation.ban,
    ),
    "unban": Command(
        "/unban NAME|MASK  lift a ban (NAME: every ban that matches the user)", moderation.unban
    ),
    "bans": Command("/bans  list this room's bans and exceptions", moderation.bans),
    "invite": Command(
        "/invite NAME  invite a user here (past +i, a key and a limit)", moderation.invite
    ),
    "mode": Command(
        "/mode [+-FLAGS ARGS]  show or change the room's modes: b e I k l i m n s t o v",
        moderation.mode,
    ),
    # Server operators (docs/protocol.md, "Server operators").
    "oper": Command("/oper NAME PASSWORD  become a server operator", opers.oper),
    "kill": Command(
        "/kill NAME [REASON]  disconnect a user from the server (server operators)", opers.kill
    ),
    "wallops": Command(
        "/wallops TEXT  a message to every server operator (server operators)", opers.wallops
    ),
    "kline": Command(
        "/kline [DURATION] MASK [REASON]  ban a mask or a:ACCOUNT from the server "
        "(server operators)",
        opers.kline,
    ),
    "unkline": Command("/unkline MASK  lift a server ban (server operators)", opers.unkline),
    "klines": Command("/klines  list the server bans (server operators)", opers.klines),
    # History (docs/protocol.md, "History").
    "history": Command(
        f"/history [NAME] [N]  show the room's last N messages, or your private messages "
        f"with NAME (default {history.HISTORY_LINES}, at most {MAX_FETCH})",
        history.history,
    ),
    "replay": Command(
        "/replay [on|off|since WHEN]  replay on joining a room (bots: off); since WHEN: "
        "from then, once",
        history.replay,
    ),
}
