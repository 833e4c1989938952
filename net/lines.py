"""Framing, sans-I/O: a client's bytes in, its lines out.

`LineSplitter` is fed the bytes of each read and asked for lines, as h11's
ReceiveBuffer is. It splits at `\\n`, applies a door's line limit (docs/protocol.md,
Transport: one `\\r` before the `\\n` is not counted; a longer line is reported as soon
as it passes the limit and its rest is discarded as it arrives), strips telnet
negotiation before splitting (a sequence may straddle reads), notices a TLS
ClientHello in the first bytes of a plain port, and gives a last line that came
without its newline at EOF. No sockets, no asyncio, no clock here: net/connection.py
pumps bytes in and decides when a line is taken.
"""

from __future__ import annotations

from utils import strip_telnet_stream

IAC_BYTE = b"\xff"
TLS_HANDSHAKE = b"\x16"  # the first byte of a TLS ClientHello


class LineSplitter:
    """One connection's incoming byte stream, as lines.

    Whole runs of lines are queued as read, and a line is cut out of its run only when
    it is taken: a paced flood of short lines costs what was read, not an object per
    line. `next_line()` gives a line as sent, without its `\\n` (a `\\r` before it is
    kept: the door's session removes it), or None for a line over the limit.
    """

    __slots__ = (
        "_discarding",
        "_max_line_bytes",
        "_offset",
        "_partial",
        "_runs",
        "_strip_telnet",
        "_telnet",
        "is_eof",
        "is_tls_hello",
        "sniff_tls",
    )

    def __init__(self, max_line_bytes: int, *, strip_telnet: bool = True) -> None:
        self.sniff_tls = True  # the next bytes may be a ClientHello (the first, on a plain port)
        self.is_tls_hello = False  # they were: nothing more is taken
        self.is_eof = False
        self._max_line_bytes = max_line_bytes
        self._strip_telnet = strip_telnet
        self._partial = b""  # the start of a line whose newline has not come
        self._discarding = False  # inside a line that was already too long
        # None in it stands for a too-long line. A list while runs wait, else None: an
        # idle connection's queue is empty, and holds nothing (an empty deque holds a
        # 0.6 KB block, an empty list 56 bytes).
        self._runs: list[bytes | None] | None = None
        self._offset = 0  # where the next line starts in self._runs[0]
        self._telnet = b""  # an IAC sequence cut off at the end of the last read

    def feed(self, data: bytes) -> None:
        """Take the bytes of one read: queue its whole lines, keep the partial one."""
        if self.sniff_tls:
            self.sniff_tls = False
            if data[:1] == TLS_HANDSHAKE:
                self.is_tls_hello = True
        if self.is_tls_hello or self.is_eof:
            return
        if self._strip_telnet and (self._telnet or IAC_BYTE in data):
            # before splitting: a window-size report may hold a b"\n"
            data, self._telnet = strip_telnet_stream(data, self._telnet)
        if self._discarding:
            end = data.find(b"\n")
            if end < 0:
                return
            data = data[end + 1 :]
            self._discarding = False
        if self._partial:
            data = self._partial + data
            self._partial = b""
        end = data.rfind(b"\n") + 1
        if end:
            self._queue(data if end == len(data) else data[:end])
        tail = data[end:]
        if len(tail) > self._max_line_bytes + 1:  # a trailing "\r" is not content
            self._queue(None)  # rejected at once, its rest discarded as it comes
            self._discarding = True
        else:
            self._partial = tail

    def is_one_line(self, data: bytes) -> bool:
        """Whether the bytes of a read are one whole line, within the limit, with
        nothing queued before them, nothing to strip and nothing to sniff: then that line
        is `data[:-1]`, as next_line() would give it after feed(data), and the splitter
        need not see it (the read of a chat client is nearly always this one)."""
        return (
            len(data) - 1 == data.find(b"\n") >= 0
            and len(data) <= self._max_line_bytes + 1
            and not (self._runs or self._partial or self._discarding or self.sniff_tls)
            and not (self.is_tls_hello or self.is_eof)
            and not (self._strip_telnet and (self._telnet or IAC_BYTE in data))
        )

    def takes_whole(self) -> bool:
        """Whether lines that came whole (a layer's messages, net/weblink.py: no line end
        in them) may be taken at once, without the splitter, each as is_one_line() takes
        a read of one line: nothing is queued, nothing to strip, nothing to sniff (the
        caller checks each line's length against the limit)."""
        return not (
            self._runs or self._partial or self._discarding or self.sniff_tls
            or self.is_tls_hello or self.is_eof or self._strip_telnet
        )  # fmt: skip

    @property
    def max_line_bytes(self) -> int:
        return self._max_line_bytes

    def feed_eof(self) -> None:
        """The peer is done sending: a partial line becomes the last line."""
        self.is_eof = True
        if self._partial and not self._discarding:
            self._queue(self._partial + b"\n")  # a last line without its newline
        self._partial = b""

    def _queue(self, run: bytes | None) -> None:
        if self._runs is None:
            self._runs = [run]
        else:
            self._runs.append(run)

    @property
    def has_line(self) -> bool:
        """Whether next_line() has a line (or a too-long one) to give."""
        return bool(self._runs)

    @property
    def partial(self) -> bytes:
        """The start of a line whose newline has not come yet (at most the limit + 1)."""
        return self._partial

    def next_line(self) -> bytes | None:
        """Cut the next line (without its newline) out of the queue; None: too long.
        Only when has_line is true."""
        runs, start = self._runs, self._offset
        assert runs is not None, "next_line() only when has_line"
        run = runs[0]
        if run is None:
            del runs[0]
            if not runs:
                self._runs = None
            return None
        end = run.find(b"\n", start)
        if end + 1 == len(run):
            del runs[0]
            if not runs:
                self._runs = None
            self._offset = 0
        else:
            self._offset = end + 1
        size, most = end - start, self._max_line_bytes
        if size > most and size - run.endswith(b"\r", start, end) > most:
            return None
        return run[start:end]
