"""Certificates made in the test run: a private CA and server certificates (trustme),
and a self-signed one made with the openssl command the README shows."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import trustme

# README, "Running it for real": the self-signed certificate for a private server.
SELF_SIGNED_COMMAND = (
    "openssl req -x509 -newkey rsa:2048 -sha256 -days 825 -nodes "
    "-keyout key.pem -out cert.pem -subj /CN=localhost "
    "-addext subjectAltName=DNS:localhost,IP:127.0.0.1"
)


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """A CA's certificate, and a server certificate chain and key it signed, on disk."""

    ca: str
    cert: str
    key: str

    def client_context(self) -> ssl.SSLContext:
        """A client that trusts only this CA."""
        return ssl.create_default_context(cafile=self.ca)


def make_tls_files(directory: Path, name: str = "server", ca: trustme.CA | None = None) -> TlsFiles:
    """A server certificate for 127.0.0.1 and localhost, signed by `ca` (a new one if None)."""
    ca = ca or trustme.CA()
    directory.mkdir(parents=True, exist_ok=True)
    leaf = ca.issue_cert("127.0.0.1", "localhost", common_name=name)
    paths = TlsFiles(str(directory / "ca.pem"), str(directory / f"{name}.pem"),
                     str(directory / f"{name}.key"))  # fmt: skip
    ca.cert_pem.write_to_path(paths.ca)
    with open(paths.cert, "wb") as file:
        for blob in leaf.cert_chain_pems:
            file.write(blob.bytes())
    leaf.private_key_pem.write_to_path(paths.key)
    return paths


def self_signed(directory: Path) -> tuple[str, str]:
    """A self-signed certificate and its key, made by the README's openssl command."""
    assert shutil.which("openssl"), "openssl is needed (.ci/run installs it)"
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        SELF_SIGNED_COMMAND.split(), cwd=directory, check=True, capture_output=True, timeout=60
    )
    return str(directory / "cert.pem"), str(directory / "key.pem")
