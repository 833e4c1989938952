"""The front doors: each speaks one wire protocol over the one registry (rooms.py).

`connection.py` is what every door shares: lines, pacing, the send queue, timeouts.
Each door's own package holds its socket-free core and how it words events.
"""
