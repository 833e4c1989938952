"""The text door: the menu protocol of docs/protocol.md, for client.py, nc and telnet."""
