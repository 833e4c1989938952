"""HELP and HELPOP (Modern: 704/705/706, 524): how to use each IRC command.

TOPICS holds one entry per command in the table; a test keeps the two the same, so
help cannot drift from what the door does.
"""

from __future__ import annotations

from doors.irc.client import IrcClient, IrcError
from doors.irc.message import Message
from doors.irc.queries import send_words

# Each command: its usage, then what it does.
TOPICS: dict[str, tuple[str, ...]] = {
    "ADMIN": ("ADMIN [<server>]", "Shows who runs the server."),
    "AUTHENTICATE": (
        "AUTHENTICATE <mechanism> | <base64> | + | *",
        "Logs in to an account with SASL (PLAIN or SCRAM-SHA-256), after CAP REQ sasl.",
    ),
    "AWAY": ("AWAY [:<message>]", "Marks you away with a message; without one, back."),
    "BATCH": (
        "BATCH +<ref> draft/multiline <target> | -<ref>",
        "Sends the PRIVMSG or NOTICE lines tagged batch=<ref> between the two as one",
        "message (draft/multiline): opened with +<ref>, sent with -<ref>.",
    ),
    "CAP": ("CAP LS [302] | REQ :<caps> | LIST | END", "Negotiates IRCv3 capabilities."),
    "CS": ("CS <command> [<args>]", "Asks ChanServ (rooms): CS HELP."),
    "CHANSERV": ("CHANSERV <command> [<args>]", "The same as CS."),
    "CHATHISTORY": (
        "CHATHISTORY LATEST|BEFORE|AFTER|AROUND <channel> <ref>|* <limit>",
        "Shows a channel's earlier messages, as a chathistory batch. A <ref> is",
        "msgid=<id> or timestamp=<YYYY-MM-DDThh:mm:ss.sssZ>. Also BETWEEN <channel>",
        "<ref> <ref> <limit>, and TARGETS <timestamp> <timestamp> <limit>.",
    ),
    "MARKREAD": (
        "MARKREAD <target> [timestamp=<YYYY-MM-DDThh:mm:ss.sssZ>]",
        "Shows how far you have read a channel or a nick's messages, or moves it",
        "forward (draft/read-marker); logged in, every connection of your account hears it.",
    ),
    "REDACT": (
        "REDACT <target> <msgid> [:<reason>]",
        "Deletes a message you sent to a channel or a nick, or any message of a channel",
        "you run, from history too (draft/message-redaction).",
    ),
    "REGISTER": (
        "REGISTER <account>|* <email>|* <password>",
        "Registers your nick as an account and logs you in (draft/account-registration).",
    ),
    "VERIFY": ("VERIFY <account> <code>", "Nothing to verify here: no e-mail is asked for."),
    "HELP": ("HELP [<subject>]", "Shows help on a command, or lists the commands."),
    "HELPOP": ("HELPOP [<subject>]", "The same as HELP."),
    "INFO": ("INFO [<server>]", "Shows what the server is and how long it has run."),
    "INVITE": (
        "INVITE [<nick> <channel>]",
        "Invites a user to a channel (on +i, operators only); alone, lists your invitations.",
    ),
    "ISON": ("ISON <nick>{ <nick>}", "Tells which of these nicks are online."),
    "JOIN": ("JOIN <channel>{,<channel>} | JOIN 0", "Joins channels, or leaves them all."),
    "KICK": (
        "KICK <channel> <nick>{,<nick>} [:<reason>]",
        "Removes users from a channel (operators only); they may rejoin unless banned.",
    ),
    "KILL": (
        "KILL <nick> [:<reason>]",
        "Disconnects a user from the server (server operators only).",
    ),
    "KLINE": (
        "KLINE [<duration>] <mask> [:<reason>] | KLINE LIST",
        "Bans a nick!user@host mask, an address, or a:<account> from the server, for a",
        "<duration> (30m, 1h, 7d, 2w) or for good, and disconnects whom it matches",
        "(server operators only). KLINE LIST is STATS K.",
    ),
    "LINKS": ("LINKS [[<server>] <mask>]", "Lists the servers of the network: this one."),
    "LIST": (
        "LIST [<filter>{,<filter>} [<server>]]",
        "Lists channels with their user counts and topics. A filter is a channel,",
        "a mask, !mask (not matching), >n or <n users, C>n or C<n minutes since",
        "the channel was made, T>n or T<n minutes since its topic was set.",
    ),
    "LUSERS": ("LUSERS", "Shows how many users and channels there are."),
    "MODE": (
        "MODE <channel>|<nick> [<modes> [<args>]]",
        "Shows or changes modes. Channels: +b/+e/+I <mask> (ban, exception, invite",
        "exception; alone: the list), +k <key>, +l <count>, +i +m +n +s +t, +o/+v <nick>.",
    ),
    "MONITOR": (
        "MONITOR + <nick>{,<nick>} | - <nick>{,<nick>} | C | L | S",
        "Watches nicks: tells you when each comes online (730) or goes offline (731).",
        "- stops watching them, C all of them; L lists them, S tells who is online.",
    ),
    "MOTD": ("MOTD [<server>]", "Shows the message of the day."),
    "NS": ("NS <command> [<args>]", "Asks NickServ (accounts): NS HELP lists its commands."),
    "NICKSERV": ("NICKSERV <command> [<args>]", "The same as NS."),
    "NAMES": ("NAMES <channel>{,<channel>}", "Lists who is in channels."),
    "NICK": ("NICK <nick>", "Chooses or changes your nick."),
    "NOTICE": ("NOTICE <target>{,<target>} :<text>", "Sends a notice: never auto-answered."),
    "OPER": ("OPER <name> <password>", "Makes you a server operator (user mode +o)."),
    "PART": ("PART <channel>{,<channel>} [:<reason>]", "Leaves channels."),
    "PASS": ("PASS <password>", "Gives the server's password, before NICK and USER."),
    "PING": ("PING <token>", "Asks the server for a PONG with the same token."),
    "PONG": ("PONG <token>", "Answers the server's PING."),
    "PRIVMSG": ("PRIVMSG <target>{,<target>} :<text>", "Sends text to channels or users."),
    "QUIT": ("QUIT [:<reason>]", "Disconnects; your channels see the reason."),
    "STATS": ("STATS <letter>", "STATS K lists the server bans (server operators only)."),
    "SETNAME": ("SETNAME :<realname>", "Changes your real name (setname capability)."),
    "TAGMSG": ("TAGMSG <target>", "Sends tags alone (needs the message-tags capability)."),
    "TIME": ("TIME [<server>]", "Shows the server's clock."),
    "TOPIC": ("TOPIC <channel> [:<topic>]", "Shows or sets a channel's topic."),
    "UNKLINE": ("UNKLINE <mask>", "Lifts a server ban (server operators only)."),
    "USER": ("USER <user> 0 * :<realname>", "Gives your user name and real name."),
    "USERHOST": ("USERHOST <nick>{ <nick>}", "Shows up to five users' user@host."),
    "VERSION": ("VERSION [<server>]", "Shows the server's version and what it supports."),
    "WALLOPS": (
        "WALLOPS :<text>",
        "Sends text to the server operators and users with +w (server operators only).",
    ),
    "WHO": (
        "WHO [<mask> [%<fields>[,<token>]]]",
        "Lists the users of a channel, or those whose nick, user, host or real",
        "name match a mask (* and ? are wildcards). %fields asks for WHOX replies.",
    ),
    "WHOIS": ("WHOIS [<server>] <nick>", "Shows who a user is, where, and since when."),
    "WHOWAS": ("WHOWAS <nick> [<count>]", "Shows who had a nick before."),
}


def on_help(s: IrcClient, msg: Message) -> None:
    """HELP [subject]: a command's usage, or the list of commands."""
    if not msg.params or not msg.params[0]:
        s.numeric("704", "*", "Commands you can use; HELP <command> tells more:")
        send_words(s, "705", ["*"], sorted(TOPICS))
        s.numeric("706", "*", "End of /HELP")
        return
    subject = msg.params[0].upper()
    text = TOPICS.get(subject)
    if text is None:
        raise IrcError("524", msg.params[0], "No help available on this topic")
    first, *rest = text
    s.numeric("704", subject, first)
    for more in rest:
        s.numeric("705", subject, more)
    s.numeric("706", subject, "End of /HELP")
