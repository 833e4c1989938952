"""Several servers as one chat through Redis (docs/cluster.md).

Optional: it needs the `cluster` extra (redis-py). The registry (rooms.py) talks to it
through its `Relay` protocol only; doors never import it.
"""
