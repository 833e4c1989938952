"""The installed commands, `chatroom-server` and `chatroom`.

An install puts the whole checkout into one `chatroom` directory of site-packages, so
it adds no generic top-level names (config, events, doors, utils, ...) there; these
entry points put that directory first on this process's path, as running
`python3 server.py` from the checkout does, then run the same main(). Nothing else.
"""

from __future__ import annotations

import os
import sys

HOME = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # .../chatroom


def _from_home() -> None:
    if HOME not in sys.path:
        sys.path.insert(0, HOME)


def server() -> int:
    """`chatroom-server`: `python3 server.py`."""
    _from_home()
    import server as program

    return program.main()


def client() -> int:
    """`chatroom`: `python3 client.py`."""
    _from_home()
    import client as program

    return program.main()
