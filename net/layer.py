"""A transport layered over the socket's own (TLS: net/tls.py; WebSocket:
net/weblink.py): what passes straight through to the transport below it."""

from __future__ import annotations

import asyncio


class Layer(asyncio.BufferedProtocol, asyncio.Transport):
    """The protocol of the socket below and the transport of the layer above; a
    subclass sets `_raw` when the socket connects and `_is_closing` when it closes."""

    _raw: asyncio.Transport | None
    _is_closing: bool

    def abort(self) -> None:
        self._is_closing = True
        if self._raw is not None:
            self._raw.abort()

    def get_write_buffer_size(self) -> int:
        return self._raw.get_write_buffer_size() if self._raw is not None else 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if self._raw is not None:
            self._raw.set_write_buffer_limits(high, low)

    def pause_reading(self) -> None:
        if self._raw is not None and not self._raw.is_closing():
            self._raw.pause_reading()

    def resume_reading(self) -> None:
        if self._raw is not None and not self._raw.is_closing():
            self._raw.resume_reading()
