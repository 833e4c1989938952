"""Every limit and setting of the server, in one frozen value.

`server.main()` builds it from the command line and passes it down; nothing else
reads flags or the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8080
    max_line_bytes: int = 2048  # docs/protocol.md, Transport
    max_send_queue_bytes: int = 256 * 1024  # a member further behind is disconnected
    max_clients: int = 20_000  # total connections (the idle benchmark holds 10,000)
    max_per_ip: int = 20  # connections from one address; 0: no limit; loopback exempt
    max_rooms: int = 1000
    rate_lines_per_s: float = 5.0  # flood control; 0 turns it off
    burst_lines: int = 10
    login_timeout_s: float = 60.0  # time to choose a name
    password: str = ""  # the server password both doors ask for; "" asks for none
    # Server operators (README "Server operators"): (oper name, its password in clear or
    # a `scram-sha-256$...` record). Never shown: repr() leaves it out.
    opers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    shutdown_grace_s: float = 2.0
    max_name_chars: int = 24  # docs/protocol.md, Names
    max_room_chars: int = 32
    max_topic_chars: int = 390  # IRC TOPICLEN
    max_away_chars: int = 200  # IRC AWAYLEN
    max_realname_chars: int = 100  # IRC NAMELEN: USER's realname, SETNAME's
    max_watch: int = 100  # names one user may watch (IRC MONITOR, the text door's /watch)
    max_joined: int = 50  # rooms one user may be in at once (IRC CHANLIMIT)
    irc_port: int | None = None  # None: no IRC door (the command line's default is 6667)
    irc_port_required: bool = False  # a busy IRC port is an error, not a warning
    irc_server_name: str = "chatroom.local"
    irc_server_info: str = "chatroom, a terminal chat server"  # LINKS, WHOIS, ADMIN
    motd: tuple[str, ...] = ()  # lines of the message of the day, from --motd
    ping_interval_s: float = 90.0  # IRC: a client silent this long is pinged
    ping_timeout_s: float = 60.0  # ... and dropped if it still says nothing
    # IRCv3 draft/multiline (docs/irc.md, "Multiline messages"): one message's text, its
    # "\n" between lines counted, and its lines. A recipient without the capability gets
    # each line as a PRIVMSG of its own, with the sender's mask and tags: about 100 lines
    # of 40 bytes is some 15 KiB to each, well inside max_send_queue_bytes.
    max_multiline_bytes: int = 4096
    max_multiline_lines: int = 100
    # Room moderation (bans, invitations, keys): README "Moderation".
    max_list_masks: int = 100  # each of a room's lists: bans, exceptions, invite exceptions
    max_invites: int = 100  # a room's invitations not yet used
    max_held_messages: int = 100  # private messages waiting for one offline account
    max_key_chars: int = 23  # a room key (+k), RFC 2812's length
    # A cluster (docs/cluster.md): servers sharing one chat through Redis.
    cluster: str = ""  # redis://HOST:PORT/DB; "" for one server on its own
    node_name: str = ""  # this server's name in the cluster; "": host-pid
    workers: int = 1  # server processes sharing the ports (SO_REUSEPORT); needs cluster
    reuse_port: bool = False  # listen with SO_REUSEPORT (each worker does)
    log_level: str = "INFO"
    # TLS: listeners beside the plain ones when tls_cert is set.
    tls_cert: str = ""  # PEM certificate chain; "" for no TLS
    tls_key: str = ""  # PEM private key
    tls_port: int | None = None  # text door over TLS; None: none (the command line's: 8443)
    irc_tls_port: int | None = None  # IRC door over TLS; None: none (the command line's: 6697)
    plain: bool = True  # False (--no-plain): the TLS listeners only
    tls_handshake_timeout_s: float = 10.0  # a handshake that takes longer is dropped
    tls_hello_timeout_s: float = 3.0  # no TLS bytes at all by then: told "TLS only"
    sts_duration_s: int = 0  # IRCv3 STS policy duration; 0: no policy
    # The WebSocket door (docs/irc.md, "WebSocket"): IRC for browsers, and the web page.
    websocket_port: int | None = None  # ws:// and http://; None: no such listener
    websocket_tls_port: int | None = None  # wss:// and https://, with tls_cert; None: none
    websocket_origins: tuple[str, ...] = ()  # other pages' origins that may connect
    trusted_proxies: tuple[str, ...] = ()  # networks whose X-Forwarded-For is believed
    http_request_timeout_s: float = 10.0  # a connection's HTTP request must come by then
    web_root: str = ""  # the page's files; "": the package's web/ (net/web.py)
    uvloop: bool = False
    # History: rooms, topics and lines kept in SQLite (store/), replay on join.
    db_path: str = ""  # "": no history (the command line's default is chatroom.db)
    replay_lines: int = 20  # lines replayed on join; 0: none
    history_days: float = 30.0  # lines older than this expire; 0: kept for ever
    history_queue_max: int = 20_000  # entries waiting for the disk before some are dropped
    history_queue_bytes: int = 4 << 20  # ... and their bytes (long lines fill this first)
    # Accounts (registry/accounts.py), kept with the history (or in Redis in a cluster).
    registration_open: bool = True  # --registration closed: nobody may register a name
    always_on: bool = False  # --always-on on: accounts that have not chosen stay when offline
