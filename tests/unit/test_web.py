"""The web side of the WebSocket door (net/web.py): the page's files as served, the
Origin rule, a trusted proxy's word on the client's address; and their options
(config/web.py). Standard library only: none of this needs the websockets package."""

from __future__ import annotations

import argparse
import importlib.util
import ipaddress
from pathlib import Path

import pytest

from config.options import parse_args
from config.web import origin, origin_list
from net.web import WEB_ROOT, Site, client_address, http_refusal, origin_allowed


@pytest.fixture
def site(tmp_path: Path) -> Site:
    root = tmp_path / "web"
    (root / "js").mkdir(parents=True)
    (root / "docs").mkdir()
    (root / "index.html").write_text("<p>home</p>")
    (root / "js" / "app.js").write_text("start();")
    (root / "style.CSS").write_text("p {}")
    (root / "docs" / "index.html").write_text("<p>docs</p>")
    (root / "data.bin").write_bytes(b"\x00\x01")
    (root / ".secret").write_text("hidden")
    (root / "link.html").symlink_to(tmp_path / "outside.html")
    (tmp_path / "outside.html").write_text("outside")
    return Site.load(root)


def test_every_file_is_served_by_its_path_with_its_type(site: Site) -> None:
    assert sorted(site.pages) == [
        "/data.bin", "/docs/index.html", "/index.html", "/js/app.js", "/style.CSS",
    ]  # fmt: skip
    for target, body, kind in [
        ("/", b"<p>home</p>", "text/html; charset=utf-8"),
        ("/index.html?v=2", b"<p>home</p>", "text/html; charset=utf-8"),
        ("/js/app.js", b"start();", "text/javascript; charset=utf-8"),
        ("/style.CSS", b"p {}", "text/css; charset=utf-8"),
        ("/docs/", b"<p>docs</p>", "text/html; charset=utf-8"),
        ("/data.bin", b"\x00\x01", "application/octet-stream"),
        ("/%6As/app.js", b"start();", "text/javascript; charset=utf-8"),
    ]:
        reply = site.reply("GET", target, "h", None)
        assert (reply.status, reply.body, dict(reply.headers)["Content-Type"]) == (200, body, kind)


@pytest.mark.parametrize(
    "target",
    [
        "/../outside.html", "/js/../../outside.html", "/%2e%2e/outside.html", "/..%2foutside.html",
        "/link.html", "/.secret", "/missing.html", "//etc/passwd", "/js", "/js/", "/index.html/",
        "/C:\\windows", "/index.html%00.js",
    ],
)  # fmt: skip
def test_nothing_outside_the_pages_files_is_served(site: Site, target: str) -> None:
    assert site.reply("GET", target, "h", None).status == 404


def test_a_directory_named_without_its_slash_is_redirected(site: Site) -> None:
    reply = site.reply("GET", "/docs", "h", None)
    assert (reply.status, dict(reply.headers)["Location"]) == (301, "/docs/")


def test_head_says_what_get_would_send_without_the_body(site: Site) -> None:
    get, head = (site.reply(method, "/", "h", None) for method in ("GET", "HEAD"))
    assert head.status == 200 and head.body == b""
    assert dict(head.headers)["Content-Length"] == str(len(get.body)) == "11"


def test_other_methods_are_405_with_allow(site: Site) -> None:
    reply = site.reply("DELETE", "/", "h", None)
    assert reply.status == 405 and dict(reply.headers)["Allow"] == "GET, HEAD"


def test_an_etag_that_matches_is_304_without_a_body(site: Site) -> None:
    etag = dict(site.reply("GET", "/", "h", None).headers)["ETag"]
    assert site.reply("GET", "/", "h", f'"other", {etag}').status == 304
    assert site.reply("GET", "/", "h", f'"other", {etag}').body == b""
    assert site.reply("GET", "/", "h", '"other"').status == 200


def test_a_path_that_is_not_utf8_is_400(site: Site) -> None:
    assert site.reply("GET", "/%ff.html", "h", None).status == 400


def test_every_reply_carries_the_security_headers(site: Site) -> None:
    for target in ("/", "/missing", "/docs"):
        headers = dict(site.reply("GET", target, "chat.example.org", None).headers)
        assert headers["X-Content-Type-Options"] == "nosniff", target
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert (
            "connect-src 'self' ws://chat.example.org wss://chat.example.org;"
            in (headers["Content-Security-Policy"])
        )


def test_no_directory_is_an_empty_site_and_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    site = Site.load(tmp_path / "nowhere")
    assert site.pages == {} and site.reply("GET", "/", "h", None).status == 404
    assert any("no directory" in r.getMessage() for r in caplog.records)


def test_the_package_ships_a_page() -> None:
    index = WEB_ROOT / "index.html"
    assert index.is_file() and '<script type="module" src="app.js">' in index.read_text()
    assert "/index.html" in Site.load().pages


def test_a_refusal_before_the_request_is_a_whole_http_reply() -> None:
    sent = http_refusal("Server is full (3 connections). Try again later.") + "\r\n"
    head, _, body = sent.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 503 Service Unavailable\r\n")
    assert f"Content-Length: {len(body)}" in head
    assert body == "Server is full (3 connections). Try again later.\r\n"
    assert http_refusal("This port speaks TLS only.").startswith("HTTP/1.1 400 Bad Request")


@pytest.mark.parametrize(
    ("given", "written"),
    [
        ("https://Chat.Example.org", "https://chat.example.org"),
        ("https://chat.example.org:443/", "https://chat.example.org"),
        ("http://chat.example.org:8080", "http://chat.example.org:8080"),
        ("http://[2001:DB8::1]:80", "http://[2001:db8::1]"),
    ],
)
def test_allowed_origins_are_written_as_browsers_send_them(given: str, written: str) -> None:
    assert origin(given) == written
    assert origin_allowed(written, "elsewhere", (origin(given),))


@pytest.mark.parametrize(
    "bad", ["chat.example.org", "ftp://x", "https://x/path", "https://u@x", "https://x:99999", ""]
)
def test_an_origin_that_is_not_one_is_refused(bad: str) -> None:
    with pytest.raises((ValueError, argparse.ArgumentTypeError)):
        origin_list(bad) if bad else origin(bad)


TRUSTED = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("10.0.0.0/8"))


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "forwarded", "client"),
    [
        ("127.0.0.1", ["203.0.113.7"], [], "203.0.113.7"),
        ("127.0.0.1", ["198.51.100.9, 203.0.113.7"], [], "203.0.113.7"),  # left: forgeable
        ("127.0.0.1", ["203.0.113.7, 10.0.0.2"], [], "203.0.113.7"),  # through two proxies
        ("127.0.0.1", ["203.0.113.7", "10.0.0.2"], [], "203.0.113.7"),  # two headers
        ("127.0.0.1", ["10.0.0.3, 10.0.0.2"], [], "10.0.0.3"),  # proxies all the way
        ("127.0.0.1", ["unknown, 10.0.0.2"], [], "10.0.0.2"),  # the chain breaks
        ("127.0.0.1", ["203.0.113.7:4711"], [], "203.0.113.7"),
        ("127.0.0.1", ["[2001:db8::7]:4711"], [], "2001:db8::7"),
        ("127.0.0.1", ["::ffff:203.0.113.7"], [], "203.0.113.7"),
        ("127.0.0.1", ["not an address"], [], "127.0.0.1"),
        ("127.0.0.1", [], ["for=203.0.113.7;proto=https;by=10.0.0.1"], "203.0.113.7"),
        ("127.0.0.1", [], ['for="[2001:db8::7]:4711", for=10.0.0.2'], "2001:db8::7"),
        ("127.0.0.1", [], ["for=_hidden"], "127.0.0.1"),
        ("127.0.0.1", ["203.0.113.7"], ["for=198.51.100.9"], "203.0.113.7"),  # XFF first
        ("192.0.2.1", ["203.0.113.7"], ["for=203.0.113.8"], "192.0.2.1"),  # not trusted
        ("127.0.0.1", [], [], "127.0.0.1"),
    ],
)
def test_the_client_is_the_nearest_address_a_trusted_proxy_names(
    peer: str, forwarded_for: list[str], forwarded: list[str], client: str
) -> None:
    assert client_address(peer, forwarded_for, forwarded, TRUSTED) == client


def test_the_lists_come_from_a_config_file_as_lists_or_strings(tmp_path: Path) -> None:
    path = tmp_path / "chatroom.toml"
    path.write_text(
        'websocket-port = 8097\nwebsocket-origins = ["https://a.org", "http://b:81"]\n'
        'trusted-proxies = "127.0.0.1, 10.0.0.0/8"\n'
    )
    config = parse_args(["--config", str(path)])
    assert config.websocket_port == 8097
    assert config.websocket_origins == ("https://a.org", "http://b:81")
    assert config.trusted_proxies == ("127.0.0.1/32", "10.0.0.0/8")


def test_the_options_need_a_websocket_port_and_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = parse_args(
        [
            "--websocket-port",
            "0",
            "--websocket-origins",
            "https://A.org,http://b",
            "--websocket-origins",
            "https://c",
            "--trusted-proxies",
            "10.1.2.3/8",
        ]
    )
    assert config.websocket_origins == ("https://a.org", "http://b", "https://c")
    assert config.trusted_proxies == ("10.0.0.0/8",)
    for wrong, said in [
        (["--trusted-proxies", "127.0.0.1"], "--trusted-proxies needs --websocket-port"),
        (["--websocket-tls-port", "0"], "--websocket-tls-port needs --tls-cert and --tls-key"),
        (["--websocket-port", "0", "--trusted-proxies", "x"], "not an address or network: 'x'"),
    ]:
        with pytest.raises(SystemExit):
            parse_args(wrong)
        assert said in capsys.readouterr().err
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "websockets" else real(name, *a),
    )
    with pytest.raises(SystemExit) as exit_:
        parse_args(["--websocket-port", "8097"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith(
        "error: --websocket-port needs the websockets package: pip install 'chatroom[web]' "
        "(in a checkout: pip install '.[web]')"
    )
