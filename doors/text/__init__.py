"""The text door: the menu protocol of docs/protocol.md, for client.py, nc and telnet.

`conversation.py` is what a command sees of a session (states, names, the actions the
menu and commands share); `session.py` reads lines through the states' table and
`commands.py`, the one command table, which names the handlers in `chat.py`,
`moderation.py` and `history.py`. `render.py` words events; `door.py` builds the door.
"""
