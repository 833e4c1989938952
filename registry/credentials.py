"""An account's password as SCRAM-SHA-256 keys, and the two ways to prove it.

An account stores only a salt, an iteration count and two keys derived from the
password with PBKDF2-HMAC-SHA-256 (RFC 5802, RFC 7677): the StoredKey and the ServerKey.
From that one record the server checks a password given in clear (the text door's
prompt, IRC's SASL PLAIN and `PASS account:password`) and a SCRAM-SHA-256 exchange, in
which the password never crosses the wire. Every comparison is in constant time, and
nothing here prints or logs a secret: `Credentials` and the exchange hide their keys
from repr() so that no traceback can show them.

No I/O and no asyncio: `derive` and `check` are deliberately slow (PBKDF2) and are run
off the event loop by the caller; `ScramExchange` is sans-I/O, fed the client's
messages and asked for the server's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

# PBKDF2 iterations for a new password: about 10 ms on this project's machine, so a
# guess costs that much, while a storm of logins (each run on a thread, where hashlib
# releases the GIL) leaves the event loop alone. RFC 7677 asks for at least 4096.
ITERATIONS = 20_000
MIN_ITERATIONS = 4096
MAX_ITERATIONS = 1_000_000  # a stored record asking more is refused, not computed
SALT_BYTES = 16
_SCHEME = "scram-sha-256"


class CredentialsError(ValueError):
    """A stored record, or a client's SCRAM message, that cannot be used; the text
    says why in words safe to log (never a secret)."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """What an account keeps of its password: never the password itself."""

    salt: bytes = field(repr=False)
    iterations: int
    stored_key: bytes = field(repr=False)
    server_key: bytes = field(repr=False)

    def encode(self) -> str:
        """One line for a store: `scram-sha-256$ITERATIONS$SALT$STOREDKEY$SERVERKEY`."""
        b64 = base64.b64encode
        parts = (self.salt, self.stored_key, self.server_key)
        return "$".join((_SCHEME, str(self.iterations), *(b64(p).decode() for p in parts)))

    @classmethod
    def decode(cls, text: str) -> Credentials:
        """The record `encode` wrote; CredentialsError if it is not one."""
        parts = text.split("$")
        if len(parts) != 5 or parts[0] != _SCHEME or not parts[1].isdigit():
            raise CredentialsError("not a scram-sha-256 record")
        iterations = int(parts[1])
        if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
            raise CredentialsError(f"iteration count {iterations} out of range")
        try:
            salt, stored, server = (base64.b64decode(p, validate=True) for p in parts[2:])
        except ValueError:
            raise CredentialsError("not base64") from None
        if not salt or len(stored) != 32 or len(server) != 32:
            raise CredentialsError("wrong key sizes")
        return cls(salt, iterations, stored, server)


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _salted(password: str, salt: bytes, iterations: int) -> bytes:
    secret = password.encode("utf-8", "surrogateescape")
    return hashlib.pbkdf2_hmac("sha256", secret, salt, iterations)


def derive(
    password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS
) -> Credentials:
    """The record for a new password (slow: run it off the event loop)."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    salted = _salted(password, salt, iterations)
    stored = hashlib.sha256(_hmac(salted, b"Client Key")).digest()
    return Credentials(salt, iterations, stored, _hmac(salted, b"Server Key"))


def check(password: str, credentials: Credentials) -> bool:
    """Whether a password given in clear is the account's (slow; constant-time compare)."""
    salted = _salted(password, credentials.salt, credentials.iterations)
    stored = hashlib.sha256(_hmac(salted, b"Client Key")).digest()
    return hmac.compare_digest(stored, credentials.stored_key)


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _attributes(message: str) -> list[tuple[str, str]]:
    """`a=1,b=2` as [("a", "1"), ("b", "2")]; CredentialsError if malformed."""
    pairs = []
    for part in message.split(","):
        if len(part) < 2 or part[1] != "=" or not part[0].isalpha():
            raise CredentialsError("malformed SCRAM message")
        pairs.append((part[0], part[2:]))
    return pairs


def _unescape_name(name: str) -> str:
    """A SCRAM saslname: `=2C` is a comma, `=3D` an equals sign (RFC 5802, 5.1)."""
    if "=" in name.replace("=2C", "").replace("=3D", ""):
        raise CredentialsError("malformed user name")
    return name.replace("=2C", ",").replace("=3D", "=")


Lookup = Callable[[str], "Credentials | None"]


class ScramExchange:
    """One SCRAM-SHA-256 exchange, server side: `first()` takes the client-first
    message and gives the server-first, `final()` takes the client-final message and
    gives the server-final with the account's name, or raises CredentialsError (a
    wrong password says only "authentication failed"). An unknown account goes through
    the same steps with a made-up salt, so a client cannot tell it from a wrong password.
    """

    def __init__(self, lookup: Lookup, *, fake_salt_key: bytes | None = None) -> None:
        self._lookup = lookup
        self._fake_key = fake_salt_key or secrets.token_bytes(32)
        self._name = ""
        self._credentials: Credentials | None = None
        self._nonce = ""
        self._first_bare = ""
        self._server_first = ""
        self._gs2_header = ""
        self.done = False

    def __repr__(self) -> str:
        return f"ScramExchange(name={self._name!r}, done={self.done})"

    @property
    def name(self) -> str:
        """The name the client-first message gave ("" before it)."""
        return self._name

    def first(self, message: str, *, server_nonce: str | None = None) -> str:
        """The server-first message for this client-first message."""
        if message.startswith(("p=", "p,")):
            raise CredentialsError("channel binding is not supported")
        if not message.startswith(("n,", "y,")):
            raise CredentialsError("malformed SCRAM message")
        flag, _, rest = message.partition(",")
        authzid, _, bare = rest.partition(",")
        if authzid and not authzid.startswith("a="):
            raise CredentialsError("malformed SCRAM message")
        attributes = _attributes(bare)
        if len(attributes) < 2 or attributes[0][0] != "n" or attributes[1][0] != "r":
            raise CredentialsError("malformed SCRAM message")
        if any(key == "m" for key, _ in attributes):
            raise CredentialsError("unsupported SCRAM extension")
        name = _unescape_name(attributes[0][1])
        client_nonce = attributes[1][1]
        if not name or not client_nonce or not client_nonce.isprintable():
            raise CredentialsError("malformed SCRAM message")
        self._gs2_header = f"{flag},{authzid},"
        self._name = name
        self._first_bare = bare
        self._credentials = self._lookup(name)
        if self._credentials is not None:
            salt, iterations = self._credentials.salt, self._credentials.iterations
        else:  # the same answer shape for a name with no account
            salt, iterations = _hmac(self._fake_key, name.encode())[:SALT_BYTES], ITERATIONS
        self._nonce = client_nonce + (server_nonce or secrets.token_urlsafe(18))
        salt_text = base64.b64encode(salt).decode()
        self._server_first = f"r={self._nonce},s={salt_text},i={iterations}"
        return self._server_first

    def final(self, message: str) -> tuple[str, str]:
        """(the account's name, the server-final message) if the proof is right."""
        if not self._server_first or self.done:
            raise CredentialsError("SCRAM messages out of order")
        self.done = True
        without_proof, _, proof_part = message.rpartition(",")
        attributes = _attributes(without_proof)
        if not proof_part.startswith("p=") or len(attributes) < 2:
            raise CredentialsError("malformed SCRAM message")
        binding = base64.b64encode(self._gs2_header.encode()).decode()
        if attributes[0] != ("c", binding) or attributes[1] != ("r", self._nonce):
            raise CredentialsError("authentication failed")
        try:
            proof = base64.b64decode(proof_part[2:], validate=True)
        except ValueError:
            raise CredentialsError("malformed SCRAM message") from None
        credentials = self._credentials
        auth = f"{self._first_bare},{self._server_first},{without_proof}".encode()
        if credentials is None or len(proof) != 32:
            raise CredentialsError("authentication failed")
        client_key = _xor(proof, _hmac(credentials.stored_key, auth))
        if not hmac.compare_digest(hashlib.sha256(client_key).digest(), credentials.stored_key):
            raise CredentialsError("authentication failed")
        signature = base64.b64encode(_hmac(credentials.server_key, auth)).decode()
        return self._name, f"v={signature}"
