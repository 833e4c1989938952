"""`pip install .` into a fresh virtual environment gives `chatroom-server` and
`chatroom`, which work away from the checkout; site-packages gets one `chatroom`
directory, not the checkout's generic module names. (`pipx install .` too, if pipx is
on the machine; .ci/run installs it.)"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = [pytest.mark.install, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
SKIP = shutil.ignore_patterns(
    ".git", ".venv", "*.egg-info", "build", "__pycache__", ".*_cache", ".hypothesis", "tests",
    "bench", ".irctest",
)  # fmt: skip


def checkout_copy(tmp_path: Path) -> Path:
    """The checkout without its tests, caches and venv: what a user would install."""
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=SKIP)
    return source


async def talk(server: Path, client: Path, cwd: Path) -> str:
    """Start the installed server on a free port, chat through the installed client."""
    proc = await asyncio.create_subprocess_exec(
        str(server), "--port", "0", "--no-irc", cwd=cwd, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stderr is not None
    try:
        async with asyncio.timeout(20):
            while not (
                found := re.search(rb"listening on \S+:(\d+)", await proc.stderr.readline())
            ):
                pass
        done = await asyncio.create_subprocess_exec(
            str(client), "--port", found[1].decode(), "--name", "installed",
            cwd=cwd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(done.communicate(b"/quit\n"), 20)
        return out.decode()
    finally:
        proc.terminate()
        await proc.wait()


def site_packages(venv: Path) -> Path:
    return next(venv.glob("lib/python3*/site-packages"))


async def test_pip_install_into_a_fresh_venv_gives_both_commands(tmp_path: Path) -> None:
    source = checkout_copy(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(source)],
        check=True, timeout=240, capture_output=True,
    )  # fmt: skip
    installed = {p.name for p in site_packages(venv).iterdir()}
    ours = {name for name in installed if "chatroom" in name}
    with (ROOT / "pyproject.toml").open("rb") as file:
        written = tomllib.load(file)["project"]["version"]
    assert ours == {"chatroom", f"chatroom-{written}.dist-info"}, ours
    for generic in ("config.py", "events.py", "utils.py", "doors", "chatclient", "server.py"):
        assert generic not in installed
    home = site_packages(venv) / "chatroom"  # as the installed commands import it
    assert (home / "web" / "index.html").read_bytes() == (ROOT / "web" / "index.html").read_bytes()
    ask = "from doors.irc.server_info import VERSION; print(VERSION)"
    said = subprocess.run(
        [str(venv / "bin" / "python"), "-c", ask],
        capture_output=True, text=True, check=True, timeout=30, cwd=home,
    ).stdout  # fmt: skip
    assert said == f"chatroom-{written}\n"  # the IRC door's 004 and VERSION
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = await talk(venv / "bin" / "chatroom-server", venv / "bin" / "chatroom", elsewhere)
    assert "* Hello, installed!" in out and out.endswith("Goodbye!\n")
    help_text = subprocess.run(
        [str(venv / "bin" / "chatroom-server"), "--help"],
        capture_output=True, text=True, check=True, timeout=30, cwd=elsewhere,
    ).stdout  # fmt: skip
    checkout_help = subprocess.run(
        [sys.executable, "server.py", "--help"], capture_output=True, text=True, check=True,
        timeout=30, cwd=ROOT,
    ).stdout  # fmt: skip
    options = re.compile(r"--[a-z][a-z0-9-]*")
    assert help_text.startswith("usage: chatroom-server ")
    assert set(options.findall(help_text)) == set(options.findall(checkout_help))


@pytest.mark.skipif(not shutil.which("pipx"), reason="pipx is not installed")
async def test_pipx_install_gives_both_commands(tmp_path: Path) -> None:
    source = checkout_copy(tmp_path)
    env = {**os.environ, "PIPX_HOME": str(tmp_path / "pipx"), "PIPX_BIN_DIR": str(tmp_path / "bin")}
    subprocess.run(
        ["pipx", "install", str(source)], check=True, timeout=240, capture_output=True, env=env
    )
    bin_dir = tmp_path / "bin"
    out = await talk(bin_dir / "chatroom-server", bin_dir / "chatroom", tmp_path)
    assert "* Hello, installed!" in out and out.endswith("Goodbye!\n")
