"""The terminal client's parts; `client.py` at the top is its entry point."""
