"""The history stores: implementations of the registry's history port (registry/history.py)
and its accounts port (registry/accounts.py).

`sqlite.py` is the one a single server uses (its schema in `schema.py`, its reads in
`reads.py`); a cluster's stores are `cluster/history.py` and `cluster/accounts.py`. A
store receives plain values through the ports; nothing here knows a door.
"""
