"""The IRC door's command table: each command, its handler, the parameters it needs
and whether a client may send it before registration (as Ergo's irc/commands.go).

The session (session.py) reads every line through this table; usage.py's TOPICS has an
entry for each command here, and a test keeps the two the same. A handler takes the
client and the message; one that needs the registry returns a coroutine to await.
"""

from __future__ import annotations

from doors.irc import (
    accounts,
    channels,
    history,
    markers,
    moderation,
    multiline,
    opers,
    presence,
    queries,
    redaction,
    registration,
    server_info,
    usage,
    who,
)
from doors.irc.client import Command

COMMANDS: dict[str, Command] = {
    # Registration: the only commands allowed before the welcome.
    "CAP": Command(registration.on_cap, 1, before_registration=True),
    "PASS": Command(registration.on_pass, 1, before_registration=True),
    "NICK": Command(registration.on_nick, 0, before_registration=True),
    "USER": Command(registration.on_user, 4, before_registration=True),
    "PING": Command(registration.on_ping, 1, before_registration=True),
    "PONG": Command(registration.on_pong, 0, before_registration=True),
    "QUIT": Command(registration.on_quit, 0, before_registration=True),
    # Accounts: SASL, and draft/account-registration (before the welcome too).
    "AUTHENTICATE": Command(accounts.on_authenticate, 1, before_registration=True),
    "REGISTER": Command(accounts.on_register, 3, before_registration=True),
    "NS": Command(accounts.on_nickserv, 1),
    "NICKSERV": Command(accounts.on_nickserv, 1),
    "CS": Command(accounts.on_chanserv, 1),
    "CHANSERV": Command(accounts.on_chanserv, 1),
    "VERIFY": Command(accounts.on_verify, 2, before_registration=True),
    # Rooms and messages.
    "CHATHISTORY": Command(history.on_chathistory),
    "MARKREAD": Command(markers.on_markread),
    "JOIN": Command(channels.on_join, 1),
    "PART": Command(channels.on_part, 1),
    "PRIVMSG": Command(channels.on_privmsg),
    "NOTICE": Command(channels.on_notice),
    "TAGMSG": Command(channels.on_tagmsg),
    "BATCH": Command(multiline.on_batch, 1),  # IRCv3 draft/multiline: a client's batch
    "REDACT": Command(redaction.on_redact, 2),  # IRCv3 draft/message-redaction
    "TOPIC": Command(channels.on_topic, 1),
    "NAMES": Command(channels.on_names),
    "AWAY": Command(channels.on_away),
    # Presence: who comes and goes (MONITOR), one's own realname (SETNAME).
    "MONITOR": Command(presence.on_monitor, 1),
    "SETNAME": Command(presence.on_setname, 1),
    # Moderation.
    "MODE": Command(moderation.on_mode, 1),
    "KICK": Command(moderation.on_kick, 2),
    "INVITE": Command(moderation.on_invite),
    # Server operators.
    "OPER": Command(opers.on_oper, 2),
    "KILL": Command(opers.on_kill, 1),
    "WALLOPS": Command(opers.on_wallops, 1),
    "KLINE": Command(opers.on_kline, 1),
    "UNKLINE": Command(opers.on_unkline, 1),
    "STATS": Command(opers.on_stats, 1),
    # Who is who, and the server itself.
    "WHO": Command(who.on_who),
    "WHOIS": Command(queries.on_whois),
    "WHOWAS": Command(queries.on_whowas),
    "USERHOST": Command(queries.on_userhost, 1),
    "ISON": Command(queries.on_ison, 1),
    "LIST": Command(queries.on_list),
    "LUSERS": Command(server_info.on_lusers),
    "MOTD": Command(server_info.on_motd),
    "TIME": Command(server_info.on_time),
    "VERSION": Command(server_info.on_version),
    "ADMIN": Command(server_info.on_admin),
    "INFO": Command(server_info.on_info),
    "LINKS": Command(server_info.on_links),
    "HELP": Command(usage.on_help),
    "HELPOP": Command(usage.on_help),  # InspIRCd's and UnrealIRCd's name for HELP
}
