"""Passwords as SCRAM-SHA-256 keys: one record checks a password in clear and a SCRAM
exchange (RFC 7677's own example), and no secret shows in a repr."""

from __future__ import annotations

import base64

import pytest

from registry.credentials import (
    Credentials,
    CredentialsError,
    ScramExchange,
    check,
    derive,
)

# RFC 7677, section 3: user "user", password "pencil".
SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
CLIENT_FIRST = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
SERVER_FIRST = (
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
)
CLIENT_FINAL = (
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
)
SERVER_FINAL = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
NOBODY: dict[str, Credentials] = {}


@pytest.fixture(scope="module")
def pencil() -> Credentials:
    return derive("pencil", salt=SALT, iterations=4096)


def test_a_password_checks_against_its_record_and_nothing_else(pencil: Credentials) -> None:
    assert check("pencil", pencil)
    assert not check("Pencil", pencil) and not check("", pencil)


def test_the_rfc_example_exchange_logs_user_in(pencil: Credentials) -> None:
    exchange = ScramExchange({"user": pencil}.get)
    assert exchange.first(CLIENT_FIRST, server_nonce=SERVER_NONCE) == SERVER_FIRST
    assert exchange.final(CLIENT_FINAL) == ("user", SERVER_FINAL)


def test_a_wrong_proof_fails_and_the_exchange_is_over(pencil: Credentials) -> None:
    exchange = ScramExchange({"user": pencil}.get)
    exchange.first(CLIENT_FIRST, server_nonce=SERVER_NONCE)
    wrong = CLIENT_FINAL[:-10] + "AAAAAAAAA="
    with pytest.raises(CredentialsError, match="authentication failed"):
        exchange.final(wrong)
    with pytest.raises(CredentialsError, match="out of order"):
        exchange.final(CLIENT_FINAL)


def test_an_unknown_name_is_answered_like_a_known_one_and_fails_at_the_end() -> None:
    exchange = ScramExchange(NOBODY.get, fake_salt_key=b"k" * 32)
    server_first = exchange.first("n,,n=nobody,r=abc", server_nonce="xyz")
    assert server_first.startswith("r=abcxyz,s=") and server_first.endswith(",i=20000")
    with pytest.raises(CredentialsError, match="authentication failed"):
        exchange.final("c=biws,r=abcxyz,p=" + base64.b64encode(b"\0" * 32).decode())


@pytest.mark.parametrize(
    "message",
    ["", "x", "p=tls-unique,,n=user,r=abc", "n,,r=abc", "n,,n=user", "n,,n=us=er,r=abc",
     "n,,n=user,r=abc,m=ext"],
)  # fmt: skip
def test_a_malformed_first_message_is_refused(message: str) -> None:
    with pytest.raises(CredentialsError):
        ScramExchange(NOBODY.get).first(message)


def test_a_record_survives_its_encoding_and_a_bad_one_is_refused(pencil: Credentials) -> None:
    assert Credentials.decode(pencil.encode()) == pencil
    for bad in ("", "md5$1$a$b$c", "scram-sha-256$10$AAAA$AAAA$AAAA", pencil.encode() + "$x"):
        with pytest.raises(CredentialsError):
            Credentials.decode(bad)


def test_no_secret_shows_in_a_repr(pencil: Credentials) -> None:
    shown = repr(pencil)
    assert "4096" in shown
    for secret in (pencil.salt, pencil.stored_key, pencil.server_key):
        assert repr(secret) not in shown and base64.b64encode(secret).decode() not in shown
