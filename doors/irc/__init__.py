"""The IRC door: RFC 1459/2812 as clients use it today, plus a small IRCv3 set.

`message.py` parses and formats IRC lines, `render.py` words registry events as IRC
lines, `session.py` is the socket-free core (registration, capabilities, replies),
`channels.py` and `queries.py` its commands. docs/irc.md is its reference.
"""
