"""The web side of the WebSocket door: the page's files, the HTTP replies and their
security headers, the Origin check, and the client's address from a trusted proxy.

Standard library only, and sans-I/O but for `Site.load`, which reads the package's
`web/` directory into memory (at start, and again on SIGHUP), so a request never waits
on the disk and only a file that was there can be served: a path is a key, never
joined to a directory. net/websocket.py drives these; the websockets package is not
imported here.
"""

from __future__ import annotations

import email.utils
import hashlib
import http
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from utils import Network, canonical_ip, counted, is_in, os_reason

log = logging.getLogger("chatroom")

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"  # the package's web/ directory
MAX_FILES = 1000
MAX_SITE_BYTES = 32 << 20

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json", ".map": "application/json",
    ".webmanifest": "application/manifest+json", ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
    ".ico": "image/vnd.microsoft.icon", ".woff": "font/woff", ".woff2": "font/woff2",
    ".wasm": "application/wasm",
}  # fmt: skip
OTHER_TYPE = "application/octet-stream"

# A Host header: a name or an IPv4 address, or an IPv6 one in brackets; a port.
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?")

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP response: its status, headers and body."""

    status: int
    headers: Headers
    body: bytes = b""

    @property
    def reason(self) -> str:
        return http.HTTPStatus(self.status).phrase


@dataclass(frozen=True, slots=True)
class Page:
    """One file of the site, as it is served."""

    body: bytes
    content_type: str
    etag: str


def security_headers(host: str) -> Headers:
    """What every reply carries. The policy lets the page load only its own files and
    open a WebSocket only to the host:port it came from, over ws or wss ('self' alone
    names no WebSocket in older browsers); no frames, no plugins, no referrer."""
    policy = (
        f"default-src 'self'; connect-src 'self' ws://{host} wss://{host}; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    return (
        ("Content-Security-Policy", policy),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
    )


def plain_reply(status: int, text: str, host: str = "", extra: Headers = ()) -> Reply:
    """A short text/plain reply, such as an error's."""
    body = text.encode() + b"\n"
    headers = _common(len(body), "text/plain; charset=utf-8") + extra
    return Reply(status, headers + (security_headers(host) if host else ()), body)


def http_refusal(text: str) -> str:
    """A connection refused before its HTTP request is read (the WebSocket door's
    `Door.refusal`): a whole HTTP response but for the CRLF that ends its body, which
    the caller adds. 503 for the connection limits; 400 for a port spoken to in the
    wrong protocol (plain HTTP on a TLS port, TLS on a plain one)."""
    status = 400 if text.startswith("This port") else 503
    headers = _common(len(text.encode()) + 2, "text/plain; charset=utf-8")
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n{head}\r\n{text}"


def _common(length: int, content_type: str) -> Headers:
    return (
        ("Date", email.utils.formatdate(usegmt=True)),
        ("Connection", "close"),
        ("Content-Type", content_type),
        ("Content-Length", str(length)),
    )


def is_host(text: str) -> bool:
    """Whether a Host header names a host (and a port) and nothing else."""
    return bool(_HOST.fullmatch(text))


class Site:
    """The page's files, by URL path (`/index.html`); a request for a directory gets its
    index.html."""

    def __init__(self, pages: dict[str, Page]) -> None:
        self.pages = pages

    @classmethod
    def load(cls, root: Path = WEB_ROOT) -> Site:
        """Every regular file under `root` (not hidden, not a symbolic link), up to
        MAX_FILES and MAX_SITE_BYTES in all; one log line says what was loaded."""
        pages: dict[str, Page] = {}
        total = 0
        if not root.is_dir():
            log.warning("web page: no directory %s; every request gets 404", root)
        for directory, subdirectories, files in os.walk(root):
            subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
            for name in sorted(files):
                path = Path(directory, name)
                if name.startswith(".") or path.is_symlink() or not path.is_file():
                    continue
                if len(pages) >= MAX_FILES or total + path.stat().st_size > MAX_SITE_BYTES:
                    most = counted(MAX_FILES, "file")
                    log.warning("web page: %s left out (at most %s, %d bytes)", path, most,
                                MAX_SITE_BYTES)  # fmt: skip
                    continue
                try:
                    body = path.read_bytes()
                except OSError as exc:
                    log.warning("web page: %s left out: %s", path, os_reason(exc))
                    continue
                total += len(body)
                key = "/" + path.relative_to(root).as_posix()
                kind = CONTENT_TYPES.get(path.suffix.lower(), OTHER_TYPE)
                pages[key] = Page(body, kind, f'"{hashlib.sha256(body).hexdigest()[:32]}"')
        log.info("web page: %s (%d bytes) from %s", counted(len(pages), "file"), total, root)
        return cls(pages)

    def reply(self, method: str, target: str, host: str, if_none_match: str | None) -> Reply:
        """The reply to a request that is not a WebSocket handshake."""
        if method not in ("GET", "HEAD"):
            allow = (("Allow", "GET, HEAD"),)
            return plain_reply(405, f"Method {method} not allowed here.", host, allow)
        path = urlsplit(target).path or "/"
        try:
            path = unquote(path, errors="strict")
        except UnicodeDecodeError:
            return plain_reply(400, "Bad request: the path is not UTF-8.", host)
        key = path + "index.html" if path.endswith("/") else path
        page = self.pages.get(key)
        if page is None:
            if key + "/index.html" in self.pages:  # a directory named without its slash
                return plain_reply(301, "Moved.", host, (("Location", path + "/"),))
            return plain_reply(404, "Not found.", host)
        tags = (("ETag", page.etag), ("Cache-Control", "no-cache"))
        headers = _common(len(page.body), page.content_type) + tags + security_headers(host)
        if if_none_match is not None and page.etag in (t.strip() for t in if_none_match.split(",")):
            return Reply(304, tuple(h for h in headers if h[0] != "Content-Length"))
        return Reply(200, headers, page.body if method == "GET" else b"")


def origin_allowed(origin: str | None, host: str, allowed: Sequence[str]) -> bool:
    """Whether a WebSocket handshake's Origin may connect: none at all (not a browser),
    one the operator allowed (config/web.py writes them as browsers do), or the server's
    own page: the origin's host and port are the Host header's."""
    if origin is None:
        return True
    origin = origin.strip().lower()
    if origin in allowed:
        return True
    parts = urlsplit(origin)
    scheme_port = {"http": 80, "https": 443}.get(parts.scheme)
    try:
        port = parts.port or scheme_port
        server = urlsplit(f"//{host}")
        return scheme_port is not None and (parts.hostname, port) == (
            server.hostname,
            server.port or scheme_port,
        )
    except ValueError:
        return False


def client_address(
    peer: str, forwarded_for: Sequence[str], forwarded: Sequence[str], trusted: tuple[Network, ...]
) -> str:
    """The client's own address: the peer's, unless the peer is a trusted proxy; then the
    nearest address its X-Forwarded-For (or, without one, its Forwarded header) names
    that is not a trusted proxy itself, read from the right: each proxy appends the
    address it got the request from, so what is left of an untrusted one may be
    forged. An address that is no address ("unknown", a hidden name) ends the walk."""
    if not is_in(peer, trusted):
        return peer
    if forwarded_for:
        hops = [hop for value in forwarded_for for hop in value.split(",")]
    else:
        hops = [
            pair.split("=", 1)[1]
            for value in forwarded
            for element in value.split(",")
            for pair in (p.strip() for p in element.split(";"))
            if pair[:4].lower() == "for="
        ]
    client = peer
    for hop in reversed(hops):
        address = _hop_address(hop)
        if address is None:
            break
        client = address
        if not is_in(address, trusted):
            break
    return client


def _hop_address(hop: str) -> str | None:
    """The address in one hop of X-Forwarded-For or a Forwarded `for=`: a bare address,
    an IPv4 address with a port, or an IPv6 one in brackets (with or without a port)."""
    text = hop.strip().strip('"')
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    return canonical_ip(text) if text else None
