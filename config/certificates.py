"""Certificates as the options name them: a server TLS context from a certificate chain
and key, or one line saying what is wrong with them (naming the file), and whether a
certificate is self-signed (no STS policy with one). Checked when the options are
parsed, so a bad file stops the start before anything listens; net/tls.py serves with
the context. No sockets here.
"""

from __future__ import annotations

import os
import re
import ssl

_PEM_CERT = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.DOTALL
)


class TlsSetupError(Exception):
    """A certificate or key that cannot serve; the message is one line for the operator."""


def server_context(cert: str, key: str) -> ssl.SSLContext:
    """A server context for this certificate chain and key (TLS 1.2 at least), or
    TlsSetupError saying what is wrong."""
    for path in (cert, key):
        _check_readable(path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    try:
        context.load_cert_chain(cert, key)
    except FileNotFoundError as exc:
        raise TlsSetupError(f"cannot read {exc.filename}: no such file") from None
    except PermissionError as exc:
        raise TlsSetupError(f"cannot read {exc.filename}: permission denied") from None
    except IsADirectoryError as exc:
        raise TlsSetupError(f"cannot read {exc.filename}: is a directory") from None
    except ssl.SSLError as exc:
        raise TlsSetupError(f"cannot use {cert} with {key}: {ssl_reason(exc)}") from None
    except OSError as exc:
        raise TlsSetupError(f"cannot read {cert} or {key}: {exc.strerror or exc}") from None
    return context


def _check_readable(path: str) -> None:
    """TlsSetupError naming the file if it cannot be read (ssl's own errors name none)."""
    if not os.path.exists(path):
        raise TlsSetupError(f"cannot read {path}: no such file")
    if os.path.isdir(path):
        raise TlsSetupError(f"cannot read {path}: is a directory")
    if not os.access(path, os.R_OK):
        raise TlsSetupError(f"cannot read {path}: permission denied")


def ssl_reason(exc: ssl.SSLError) -> str:
    """OpenSSL's reason in words ("key values mismatch"), without the codes around it."""
    reason = exc.reason or (exc.args[1] if len(exc.args) > 1 else str(exc))
    text = str(reason).replace("_", " ").lower()
    if "pem lib" in text or "no start line" in text:
        return "not a PEM certificate and key"
    return text


def is_self_signed(cert: str, key: str) -> bool:
    """Whether the first certificate in `cert` is self-signed: a client that trusts
    only that certificate completes a handshake with it (public ssl API only)."""
    try:
        with open(cert, "rb") as file:
            match = _PEM_CERT.search(file.read())
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(cert, key)
        client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client.check_hostname = False
        client.verify_flags &= ~ssl.VERIFY_X509_PARTIAL_CHAIN  # trusted only as a root
        if match is None:
            return False
        client.load_verify_locations(cadata=match.group().decode("ascii"))
    except (OSError, ssl.SSLError, UnicodeDecodeError):
        return False  # server_context() says what is wrong with the pair
    return _handshakes(server, client)


def sts_problem(cert: str, key: str) -> str | None:
    """Why an STS policy may not be offered with this certificate, or None."""
    if is_self_signed(cert, key):
        return (
            f"{cert} is self-signed: IRC clients cannot verify it, so an STS policy would "
            "lock them out; use a certificate from a CA (e.g. Let's Encrypt)"
        )
    return None


def _handshakes(server: ssl.SSLContext, client: ssl.SSLContext) -> bool:
    """Whether a client with `client` completes a handshake with `server`, in memory."""
    pipes = [ssl.MemoryBIO() for _ in range(4)]
    s = server.wrap_bio(pipes[0], pipes[1], server_side=True)
    c = client.wrap_bio(pipes[2], pipes[3], server_side=False)
    done = [False, False]
    for _ in range(10):
        sides = ((c, pipes[3], pipes[0]), (s, pipes[1], pipes[2]))
        for i, (side, out, peer_in) in enumerate(sides):
            if not done[i]:
                try:
                    side.do_handshake()
                    done[i] = True
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLError:
                    return False
            peer_in.write(out.read())
        if all(done):
            return True
    return False
