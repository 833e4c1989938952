"""The command line: every option, what it means, and the checks that need several.

`parse_args(argv)` returns the frozen Config the rest of the server reads; a bad option
is one line and exit status 2 (argparse's way). `--config FILE` takes the same long
options from a TOML file (config/file.py).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from config.certificates import TlsSetupError, server_context, sts_problem
from config.extras import require_extra
from config.file import parse_with_config
from config.settings import Config
from config.web import add_web_options, check_web_options
from utils import clean, os_reason, port_number

# Each option: flag, the Config field it sets, its type, a metavar, what it means.
OPTIONS: tuple[tuple[str, str, Callable[[str], Any], str | None, str], ...] = (
    ("--host", "host", str, None, "address to listen on"),
    ("--port", "port", port_number, None, "text door's port; 0 picks a free one and the log "
     "says which"),
    ("--max-line", "max_line_bytes", int, "BYTES", "longest line a client may send"),
    ("--max-clients", "max_clients", int, "N", "connections in total"),
    ("--max-per-ip", "max_per_ip", int, "N", "connections from one address (IPv6: one "
     "/64); 0: no limit; loopback is exempt"),
    ("--max-send-queue", "max_send_queue_bytes", int, "BYTES", "output a client may fall "
     "behind by before it is disconnected"),
    ("--max-rooms", "max_rooms", int, "N", "rooms at once"),
    ("--rate", "rate_lines_per_s", float, "LINES", "lines a second per client; 0 turns "
     "flood control off"),
    ("--burst", "burst_lines", int, "LINES", "lines a client may send at once before --rate "
     "applies"),
    ("--login-timeout", "login_timeout_s", float, "SECONDS", "time to choose a name; 0: "
     "no limit"),
    ("--max-bans", "max_list_masks", int, "N", "masks in each of a room's lists: bans, "
     "ban exceptions, invite exceptions"),
    ("--max-invites", "max_invites", int, "N", "a room's invitations not yet used"),
    ("--max-offline-messages", "max_held_messages", int, "N", "private messages that may "
     "wait for one offline account; 0: none"),
    ("--multiline-max-bytes", "max_multiline_bytes", int, "BYTES", "longest IRC multiline "
     "message (IRCv3 draft/multiline), a newline between lines counted"),
    ("--multiline-max-lines", "max_multiline_lines", int, "N", "lines of an IRC multiline "
     "message"),
    ("--log-level", "log_level", str.upper, "LEVEL", "DEBUG, INFO, WARNING or ERROR"),
)  # fmt: skip


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class Parser(argparse.ArgumentParser):
    """argparse, with a mistake told in one line and a pointer to --help (not the whole
    usage block before it), naming the config file when the value came from there."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sources: dict[str, str] = {}  # dest -> the config file it came from

    def error(self, message: str) -> NoReturn:
        flag = message.removeprefix("argument ").split(":", 1)[0].split("/", 1)[0]
        action = self._option_string_actions.get(flag)
        if action is not None and action.dest in self.sources:
            message = f"{self.sources[action.dest]}: {message}"
        self.exit(2, f"{self.prog}: error: {message}\nTry '{self.prog} --help' for the options.\n")


def default_server_name() -> str:
    """The host's fully qualified name as the server's IRC name; `localhost` as itself
    (not a made-up `localhost.local`), and `chatroom` when the host has no name."""
    return socket.getfqdn() or "chatroom"


def read_motd(path: str) -> tuple[str, ...]:
    """The message of the day's lines, or ArgumentTypeError."""
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return tuple(clean(text.rstrip("\n")) for text in file)[:200]
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot read {path}: {os_reason(exc)}") from None


def read_password(path: str) -> str:
    """The first line of a password file, or ArgumentTypeError."""
    try:
        with open(path, encoding="utf-8") as file:
            password = file.readline().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = os_reason(exc) if isinstance(exc, OSError) else "not UTF-8 text"
        raise argparse.ArgumentTypeError(f"cannot read {path}: {reason}") from None
    if not password:
        raise argparse.ArgumentTypeError(f"{path}: the first line is empty")
    return password


_RECORD = re.compile(
    r"scram-sha-256\$[0-9]{4,7}\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/]{43}=\$[A-Za-z0-9+/]{43}="
)


class OperOption:
    """`--oper NAME:PASSWORD` (or NAME:scram-sha-256$..., a hash from --hash-password),
    and an `[[oper]]` table of the config file: (name, password or record)."""

    __name__ = "oper"  # argparse names the type in its messages

    def __call__(self, text: str) -> tuple[str, str]:
        name, colon, secret = text.partition(":")
        if not colon:
            raise argparse.ArgumentTypeError("expected NAME:PASSWORD")
        return self._checked(name, secret)

    def from_table(self, table: dict[str, Any]) -> tuple[str, str]:
        """`name = "...", password = "..."` or `password-hash = "scram-sha-256$..."`."""
        unknown = set(table) - {"name", "password", "password-hash"}
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown key {sorted(unknown)[0]!r}")
        name, password, hashed = (table.get(k) for k in ("name", "password", "password-hash"))
        if not isinstance(name, str) or (password is None) == (hashed is None):
            raise argparse.ArgumentTypeError("needs name and one of password, password-hash")
        if hashed is not None and not (isinstance(hashed, str) and _RECORD.fullmatch(hashed)):
            raise argparse.ArgumentTypeError("password-hash: not a scram-sha-256$ record "
                                             "(make one with --hash-password)")  # fmt: skip
        if not isinstance(password, str | None):
            raise argparse.ArgumentTypeError("password: expected a string")
        return self._checked(name, hashed or password or "")

    @staticmethod
    def _checked(name: str, secret: str) -> tuple[str, str]:
        if not name or any(c.isspace() or not c.isprintable() for c in name):
            raise argparse.ArgumentTypeError("the oper name must be one word")
        if not secret:
            raise argparse.ArgumentTypeError(f"oper {name}: an empty password")
        if secret.startswith("scram-sha-256$") and not _RECORD.fullmatch(secret):
            raise argparse.ArgumentTypeError(
                f"oper {name}: not a valid scram-sha-256$ record (make one with --hash-password)"
            )
        return name, secret


def add_tls_options(parser: argparse.ArgumentParser) -> None:
    """TLS: listeners beside the plain ones, and the IRC STS policy."""
    tls = parser.add_argument_group("TLS (both doors; SIGHUP reloads the certificate)")
    tls.add_argument(
        "--tls-cert", metavar="FILE", default="",
        help="PEM certificate chain: turns on the TLS listeners (with --tls-key)",
    )  # fmt: skip
    tls.add_argument("--tls-key", metavar="FILE", default="", help="PEM private key")
    tls.add_argument(
        "--tls-port", type=port_number, metavar="PORT", default=8443,
        help="text door's TLS port; 0 picks a free one (default %(default)s)",
    )  # fmt: skip
    tls.add_argument(
        "--irc-tls-port", type=port_number, metavar="PORT", default=6697,
        help="IRC door's TLS port; 0 picks a free one (default %(default)s)",
    )  # fmt: skip
    tls.add_argument(
        "--no-plain", dest="plain", action="store_false",
        help="no plain listeners: TLS only (needs --tls-cert)",
    )  # fmt: skip
    tls.add_argument(
        "--tls-handshake-timeout", type=float, metavar="SECONDS", default=10.0,
        dest="tls_handshake_timeout_s",
        help="time a TLS handshake may take (default %(default)s)",
    )  # fmt: skip
    tls.add_argument(
        "--sts-duration", type=int, metavar="SECONDS", default=0, dest="sts_duration_s",
        help="offer IRC clients an STS policy (IRCv3 sts) of this many seconds: they will "
        "use TLS only from then on; never with a self-signed certificate (default: none)",
    )  # fmt: skip


def check_tls_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The TLS options together: a pair of files that loads, what --no-plain and STS need."""
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if args.tls_handshake_timeout_s <= 0:
        parser.error("--tls-handshake-timeout must be more than 0")
    if args.sts_duration_s < 0:
        parser.error("--sts-duration cannot be negative")
    if not args.tls_cert:
        if not args.plain:
            parser.error("--no-plain needs --tls-cert and --tls-key")
        if args.sts_duration_s:
            parser.error("--sts-duration needs --tls-cert and --tls-key")
        args.tls_port = args.irc_tls_port = None
        return
    try:
        server_context(args.tls_cert, args.tls_key)
    except TlsSetupError as exc:
        parser.error(f"--tls-cert/--tls-key: {exc}")
    if args.sts_duration_s and (problem := sts_problem(args.tls_cert, args.tls_key)):
        parser.error(f"--sts-duration: {problem}")


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    """A cluster (docs/cluster.md): servers sharing one chat through Redis."""
    group = parser.add_argument_group("a cluster (docs/cluster.md; pip install '.[cluster]')")
    group.add_argument(
        "--cluster", metavar="URL", default="",
        help="redis://HOST:PORT/DB: every server given the same URL serves one chat "
        "(default: none, one server on its own)",
    )  # fmt: skip
    group.add_argument(
        "--node-name", metavar="NAME", default="",
        help="this server's name in the cluster, unique in it (default: host-pid)",
    )  # fmt: skip
    group.add_argument(
        "--workers", type=int, metavar="N", default=1,
        help="start N server processes sharing the ports (SO_REUSEPORT); needs --cluster "
        "(default %(default)s)",
    )  # fmt: skip


def check_cluster_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    args.reuse_port = args.workers > 1
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.node_name and not all(c.isalnum() or c in ".-_" for c in args.node_name):
        parser.error("--node-name: letters, digits, '.', '-' and '_' only")
    if not args.cluster:
        if args.workers > 1:
            parser.error("--workers needs --cluster (the workers share the chat through Redis)")
        if args.node_name:
            parser.error("--node-name needs --cluster")
        return
    if not args.cluster.startswith(("redis://", "rediss://", "unix://")):
        parser.error("--cluster: a URL such as redis://127.0.0.1:6379/0")
    require_extra(parser, "redis", "--cluster", "the Redis client", "cluster")
    if args.workers > 1 and (args.port == 0 or args.irc_port == 0):
        parser.error("--workers needs fixed ports (not 0): the workers share them")


def add_history_options(parser: argparse.ArgumentParser) -> None:
    """History: where it is kept, for how long, how much a joiner sees."""
    history = parser.add_argument_group("history (README: Where your data lives)")
    history.add_argument(
        "--db", dest="db_path", metavar="PATH", default="chatroom.db",
        help="the SQLite file that keeps rooms, topics and history (default: %(default)s "
        "in the working directory)",
    )  # fmt: skip
    history.add_argument("--no-history", action="store_true", help="keep nothing and write no file")
    history.add_argument(
        "--history-days", dest="history_days", type=float, metavar="D", default=30.0,
        help="lines older than D days expire; 0 keeps them for ever (default %(default)g)",
    )  # fmt: skip
    history.add_argument(
        "--replay", dest="replay_lines", type=int, metavar="N", default=20,
        help="lines a room replays to whoever joins it; 0: none (default %(default)s)",
    )  # fmt: skip


def add_account_options(parser: argparse.ArgumentParser) -> None:
    """Accounts: whether a name may be registered."""
    accounts = parser.add_argument_group("accounts (README: Where your data lives)")
    accounts.add_argument(
        "--registration", choices=("open", "closed"), default="open",
        help="whether users may register an account for their name (default: %(default)s)",
    )  # fmt: skip
    accounts.add_argument(
        "--always-on", choices=("on", "off"), default="off",
        help="for accounts that have not chosen (NickServ SET ALWAYS-ON): whether a user "
        "logged in stays in its rooms with no connection left (default: %(default)s)",
    )  # fmt: skip


def parse_args(argv: Sequence[str] | None = None) -> Config:
    """The Config that the command line asks for."""
    defaults = Config()
    parser = Parser(
        description="A terminal chat server with a text door and an IRC door "
        "(docs/protocol.md, docs/irc.md)."
    )
    for flag, field, kind, metavar, meaning in OPTIONS:
        default = getattr(defaults, field)
        parser.add_argument(
            flag, dest=field, type=kind, default=default, metavar=metavar,
            help=f"{meaning} (default {default})",
        )  # fmt: skip
    irc = parser.add_argument_group("the IRC door (docs/irc.md)")
    irc.add_argument(
        "--irc-port", type=port_number, metavar="PORT",
        help="IRC door's port; 0 picks a free one and the log says which (default 6667; "
        "a busy default port is a warning, a busy port asked for an error)",
    )  # fmt: skip
    irc.add_argument("--no-irc", action="store_true", help="no IRC door")
    irc.add_argument(
        "--irc-server-name", metavar="NAME", default=None,
        help="the server's name in IRC replies (default: this host's name)",
    )  # fmt: skip
    irc.add_argument(
        "--irc-server-info", metavar="TEXT", default=defaults.irc_server_info,
        help="the server's description in LINKS, WHOIS and ADMIN (default: %(default)s)",
    )  # fmt: skip
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument(
        "--password", metavar="PASS", default="",
        help="a server password both doors ask for (IRC: PASS); other users of this "
        "machine can see it in the process list, so prefer --password-file",
    )  # fmt: skip
    secret.add_argument(
        "--password-file", type=read_password, metavar="FILE", dest="password_from_file",
        help="read the server password from the first line of FILE",
    )  # fmt: skip
    parser.add_argument(
        "--oper", dest="opers", action="append", type=OperOption(), metavar="NAME:PASSWORD",
        help="a server operator (repeatable): OPER NAME PASSWORD on IRC, /oper on the text "
        "door; PASSWORD may be a hash from --hash-password (scram-sha-256$...); in a config "
        'file: [[oper]] tables with name and password or password-hash (README: Server '
        "operators)",
    )  # fmt: skip
    parser.add_argument(
        "--hash-password", action="store_true",
        help="read a password from standard input, print its hash for --oper or "
        "password-hash, and exit",
    )  # fmt: skip
    parser.add_argument(
        "--motd", type=read_motd, metavar="FILE", default=(),
        help="message of the day, shown on both doors (default: none)",
    )  # fmt: skip
    parser.add_argument(
        "--uvloop", action="store_true", help="use uvloop if it is installed (optional, faster)"
    )
    add_tls_options(parser)
    add_web_options(parser)
    add_cluster_options(parser)
    add_history_options(parser)
    add_account_options(parser)
    parser.add_argument(
        "--config", metavar="FILE", dest="config_file",
        help="read options from a TOML file: keys are the long option names (port = 8080, "
        'tls-cert = "/etc/chatroom/cert.pem"); the command line wins; see '
        "contrib/chatroom.toml",
    )  # fmt: skip
    args = parse_with_config(parser, argv, sources=parser.sources)
    del args.config_file
    del args.hash_password  # server.main() handles it before anything else
    args.opers = tuple(args.opers or ())
    names = [name.casefold() for name, _ in args.opers]
    if len(set(names)) != len(names):
        parser.error("--oper: the same oper name twice")
    check_web_options(parser, args)
    check_tls_options(parser, args)
    check_cluster_options(parser, args)
    args.db_path = "" if args.no_history else args.db_path
    del args.no_history
    args.registration_open = args.registration == "open"
    del args.registration
    args.always_on = args.always_on == "on"
    args.password = args.password_from_file or args.password
    del args.password_from_file
    irc_port, no_irc = args.irc_port, args.no_irc
    del args.no_irc
    args.irc_port_required = irc_port is not None
    args.irc_port = None if no_irc else 6667 if irc_port is None else irc_port
    if no_irc:
        args.irc_tls_port = None
    args.irc_server_name = args.irc_server_name or default_server_name()
    if not all(c.isalnum() or c in ".-" for c in args.irc_server_name):
        parser.error("--irc-server-name: letters, digits, '.' and '-' only")
    if args.log_level not in LOG_LEVELS:
        parser.error(
            f"--log-level: unknown level {args.log_level!r} (one of {', '.join(LOG_LEVELS)})"
        )
    if args.db_path and os.path.isdir(args.db_path):
        parser.error(f"--db: {args.db_path} is a directory; give the database file's path, "
                     f"such as {os.path.join(args.db_path, 'chatroom.db')}")  # fmt: skip
    for flag, field in (("--history-days", "history_days"), ("--replay", "replay_lines")):
        if getattr(args, field) < 0:
            parser.error(f"{flag} cannot be negative")
    if args.replay_lines > 500:
        parser.error("--replay: at most 500")
    for flag, field, *_ in OPTIONS:
        if isinstance(getattr(args, field), int | float) and getattr(args, field) < 0:
            parser.error(f"{flag} cannot be negative")
    for flag, field in (("--burst", "burst_lines"), ("--max-line", "max_line_bytes"),
                        ("--max-clients", "max_clients"), ("--max-rooms", "max_rooms"),
                        ("--max-send-queue", "max_send_queue_bytes"),
                        ("--multiline-max-bytes", "max_multiline_bytes"),
                        ("--multiline-max-lines", "max_multiline_lines")):  # fmt: skip
        if getattr(args, field) < 1:
            parser.error(f"{flag} must be at least 1")
    return Config(**vars(args))
