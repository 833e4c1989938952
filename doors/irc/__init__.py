"""The IRC door: RFC 1459/2812 as clients use it today, plus a small IRCv3 set.

`message.py` parses and formats IRC lines, `render.py` words registry events as IRC
lines. `client.py` is what a command sees of a client (replies, capabilities, the
shared `IrcDoor`); `session.py` reads its lines through `commands.py`, the one table,
which names the handlers: `registration.py`, `channels.py`, `moderation.py`,
`queries.py`, `who.py`, `server_info.py`, `history.py`, `multiline.py` (IRCv3
draft/multiline), `usage.py`. `door.py` builds
the door a listener serves. docs/irc.md is its reference.
"""
