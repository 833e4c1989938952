"""The WebSocket door's options: its ports, the origins a page may connect from, and the
proxies trusted to say who the client is (docs/irc.md, "WebSocket"; README, "Behind
nginx").

The door needs the `web` extra (the websockets package); without it, these options
stop the server with one line saying how to install it. Nothing here imports it.
"""

from __future__ import annotations

import argparse
import ipaddress
from urllib.parse import urlsplit

from config.extras import require_extra
from utils import port_number

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(text: str) -> str:
    """One origin as a browser sends it (`https://chat.example.org`, `http://host:8080`):
    scheme, host and a port other than the scheme's own, lower case; ValueError if not."""
    parts = urlsplit(text.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"not an origin: {text!r} (a bad port)") from None
    bare = not (parts.path.strip("/") or parts.query or parts.fragment or parts.username)
    if scheme not in DEFAULT_PORTS or not parts.hostname or not bare or parts.password:
        raise ValueError(f"not an origin: {text!r} (like https://chat.example.org)")
    host = parts.hostname
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + (f":{port}" if port and port != DEFAULT_PORTS[scheme] else "")


def origin_list(text: str) -> tuple[str, ...]:
    """`--websocket-origins ORIGIN[,ORIGIN]` (argparse type)."""
    try:
        return tuple(origin(word) for word in text.split(",") if word.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def network_list(text: str) -> tuple[str, ...]:
    """`--trusted-proxies ADDRESS[,NETWORK]` (argparse type): addresses and networks,
    written the way ipaddress writes them (`127.0.0.1/32`, `10.0.0.0/8`)."""
    found = []
    for word in (w.strip() for w in text.split(",")):
        if not word:
            continue
        try:
            found.append(str(ipaddress.ip_network(word, strict=False)))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"not an address or network: {word!r} (like 127.0.0.1 or 10.0.0.0/8)"
            ) from None
    return tuple(found)


def add_web_options(parser: argparse.ArgumentParser) -> None:
    """The WebSocket door: IRC for browsers, and the page it serves."""
    web = parser.add_argument_group(
        "the WebSocket door: IRC over WebSocket and the web page (docs/irc.md; "
        "pip install '.[web]')"
    )
    web.add_argument(
        "--websocket-port", type=port_number, metavar="PORT", default=None,
        help="serve IRC over WebSocket (ws://) and the web page (http://) on this port, on "
        "--host; 0 picks a free one (default: none)",
    )  # fmt: skip
    web.add_argument(
        "--websocket-tls-port", type=port_number, metavar="PORT", default=None,
        help="the same over TLS (wss://, https://), with --tls-cert and --tls-key "
        "(default: none)",
    )  # fmt: skip
    web.add_argument(
        "--websocket-origins", type=origin_list, action="append", metavar="ORIGIN[,ORIGIN]",
        help="web pages of other origins that may connect (https://chat.example.org); the "
        "server's own page may always, and so may clients that send no Origin",
    )  # fmt: skip
    web.add_argument(
        "--trusted-proxies", type=network_list, action="append", metavar="ADDRESS[,NETWORK]",
        help="reverse proxies whose X-Forwarded-For or Forwarded header names the client "
        "(README: Behind nginx); default: none",
    )  # fmt: skip


def check_web_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The WebSocket options together (before the TLS checks, which clear TLS ports)."""
    args.websocket_origins = _flat(args.websocket_origins)
    args.trusted_proxies = _flat(args.trusted_proxies)
    ports = (args.websocket_port, args.websocket_tls_port)
    if ports == (None, None):
        for flag, given in (("--websocket-origins", args.websocket_origins),
                            ("--trusted-proxies", args.trusted_proxies)):  # fmt: skip
            if given:
                parser.error(f"{flag} needs --websocket-port or --websocket-tls-port")
        return
    if args.websocket_tls_port is not None and not args.tls_cert:
        parser.error("--websocket-tls-port needs --tls-cert and --tls-key")
    if args.websocket_port is not None and not args.plain:
        parser.error("--websocket-port is a plain listener, which --no-plain closes "
                     "(--websocket-tls-port is its TLS one)")  # fmt: skip
    if args.workers > 1 and 0 in ports:
        parser.error("--workers needs fixed ports (not 0): the workers share them")
    flag = "--websocket-port" if args.websocket_port is not None else "--websocket-tls-port"
    require_extra(parser, "websockets", flag, "the websockets package", "web")


def _flat(given: list[tuple[str, ...]] | tuple[str, ...] | None) -> tuple[str, ...]:
    """A repeatable list option's values: a list of lists from the command line or a
    config file's list, one list from a config file's string."""
    if not given:
        return ()
    if isinstance(given, tuple):
        return given
    return tuple(item for group in given for item in group)
