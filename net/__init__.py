"""The network layer: bytes in, lines out, for every door.

`lines.py` and `pacing.py` are sans-I/O (framing and the token bucket); `connection.py`
is the asyncio protocol that pumps bytes through them to a door's session; `tls.py`
makes and reloads certificates and carries TLS on a plain socket; `listeners.py` owns
the listening sockets and the limits on connections.
"""
