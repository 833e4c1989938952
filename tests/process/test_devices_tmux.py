"""One account on a laptop and a phone, as people run them: `client.py` (with
`--password-file`) and irssi (SASL, set up by the README's lines) in tmux, logged in to
one account at once, chatting with a third user. Each screen shows the whole
conversation; the third user sees one alice."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.process.test_irc_clients_sasl import sasl_lines, type_all
from tests.rigs.chat import ChatClient
from tests.rigs.serverprocess import ROOT, ServerProcess, hears, stamped
from tests.rigs.tmuxrig import Irssi, Pane, clean_env

ACCOUNT, PASSWORD = "alice", "c0rrect-h0rse"
STAMP = r"\[\d\d:\d\d\]"

pytestmark = [
    pytest.mark.timeout(40),
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.skipif(shutil.which("irssi") is None, reason="irssi is not installed"),
]


async def test_client_py_and_irssi_as_one_account_chat_with_a_third_user(
    tmp_path: Path,
) -> None:
    async with ServerProcess.running() as server:
        text_port, irc_port = server.ports["text"], server.ports["IRC"]
        owner = await ChatClient.open(text_port)
        await owner.login(ACCOUNT)
        await owner.send(f"/register {PASSWORD}", "/quit")
        await owner.expect_closed()
        secret = tmp_path / "password"
        secret.write_text(PASSWORD + "\n")

        laptop = Pane("laptop", context=server.tail)
        phone = Pane("irssi", context=server.tail)
        try:
            argv = [sys.executable, str(ROOT / "client.py"), "--port", str(text_port)]
            await laptop.start([*argv, "--password-file", str(secret)], clean_env(tmp_path))
            await laptop.wait_for("Enter your username:")
            await laptop.type(ACCOUNT)
            await laptop.wait_for(f"You are logged in as {ACCOUNT}")
            await laptop.type("/create general")
            await laptop.wait_for(r"Joined room \[general\]")

            home = tmp_path / "irssi"
            home.mkdir()
            irssi = Irssi(phone, ACCOUNT, home)
            await irssi.start_unconnected()
            await type_all(irssi, sasl_lines(irssi, irc_port, PASSWORD, "plain"))
            await irssi.expect(irssi.sasl_succeeded(ACCOUNT), irssi.status)
            await irssi.pane.type("/join #general")
            await irssi.expect(irssi.joined(ACCOUNT))

            bob = await ChatClient.open(text_port)
            await bob.login("bob")
            await bob.join("general")
            await bob.send("/who")
            await hears(server, bob, "* Users in general: @alice, bob")  # one alice
            await bob.send("hello both of you")
            await laptop.wait_for(rf"{STAMP} <bob> hello both of you")
            await irssi.expect(irssi.said("bob", "hello both of you"))

            await irssi.say("typed on the phone")
            await laptop.wait_for(rf"{STAMP} <alice> typed on the phone")
            await hears(server, bob, stamped("<alice> typed on the phone"))
            await laptop.type("typed on the laptop")
            await irssi.expect(irssi.said(ACCOUNT, "typed on the laptop"))
            await hears(server, bob, stamped("<alice> typed on the laptop"))
            await bob.close()
        finally:
            await laptop.close()
            await phone.close()
        assert [line for line in server.log if PASSWORD in line] == []
