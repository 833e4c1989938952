"""The history stores: implementations of the registry's history port (registry/history.py).

`sqlite.py` is the one a single server uses (its schema in `schema.py`, its reads in
`reads.py`); a cluster's store is `cluster/history.py`. A store receives plain values
through the port; nothing here knows a door.
"""
