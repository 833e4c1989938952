"""The front doors: each speaks one wire protocol over the one registry (rooms.py).

A door's package (text/, irc/) holds its socket-free session, its one command table,
the handlers the table names, how it words registry events, and `door.py`, which
builds the door a listener serves. `common.py` is what both sessions share (the
server password, reserved names, line sinks); net/connection.py carries their lines.
Imports run one way: net -> doors -> registry (rooms.py).
"""
