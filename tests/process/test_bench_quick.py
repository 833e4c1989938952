"""The benchmark's quick modes run end to end against the real server.

Each test runs ``python bench/run.py WORKLOAD --quick`` as a subprocess (it starts
``server.py`` itself on port 0) and checks the record it writes: deliveries counted,
nothing lost, duplicated or reordered, and in ``slow`` the stalled member dropped.
``--protocol irc`` runs fanout and rooms through the IRC door instead, ``--protocol
websocket`` through the WebSocket door (IRC lines in WebSocket frames).
``bench/login_storm.py`` runs once, tiny: both conditions measured, every login done.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 40


def run_quick(workload: str, tmp_path: Path, *flags: str) -> dict[str, Any]:
    """Run one workload's quick mode (with these extra flags); return its figure record."""
    out = tmp_path / f"{workload}.json"
    done = subprocess.run(
        [sys.executable, "bench/run.py", workload, "--quick", "--json", str(out), *flags],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    records: list[dict[str, Any]] = json.loads(out.read_text())
    assert len(records) == 1
    assert records[0]["flood_control"] == "off (--rate 0)"
    return records[0]


def assert_clean(step: dict[str, Any]) -> None:
    """A step in which every line sent arrived once, in order, with no disconnects.

    Latency is not held to the sweep's 200 ms here: a busy CI machine may exceed it.
    """
    assert step["received"] == step["expected"] > 0
    assert step["drain_ms"] is not None  # every receiver got everything
    for count in ("missing", "extra", "dups", "reorders", "disconnects", "unsent_bytes"):
        assert step[count] == 0, (count, step)
    assert step["samples"] > 0
    assert 0 < step["p50_ms"] <= step["p99_ms"] <= step["max_ms"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("workload", ["fanout", "rooms"])
def test_sweep_quick_mode_delivers_everything(workload: str, tmp_path: Path) -> None:
    record = run_quick(workload, tmp_path)
    run = record["runs"][0]
    assert record["summary"]["deliveries_per_s"] > 0
    assert run["steps"], run
    for step in run["steps"]:
        assert_clean(step)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("echo", [False, True], ids=["plain", "echo-message"])
def test_fanout_quick_mode_over_irc_delivers_to_everyone_but_the_sender(
    echo: bool, tmp_path: Path
) -> None:
    record = run_quick("fanout", tmp_path, "--protocol", "irc", *(["--irc-echo"] * echo))
    assert record["target"] == "server --protocol irc" + " --irc-echo" * echo
    assert record["command"].endswith("--protocol irc" + " --irc-echo" * echo)
    members = record["params"]["members"]
    reach = members if echo else members - 1  # without echo-message, no line comes back
    run = record["runs"][0]
    assert record["summary"]["deliveries_per_s"] > 0
    assert run["steps"], run
    for step in run["steps"]:
        assert_clean(step)
        assert step["expected"] == step["sent"] * reach


@pytest.mark.timeout(60)
@pytest.mark.parametrize("workload", ["fanout", "rooms"])
def test_sweep_quick_mode_over_websocket_counts_every_frame(workload: str, tmp_path: Path) -> None:
    record = run_quick(workload, tmp_path, "--protocol", "websocket")
    assert record["target"] == "server --protocol websocket"
    size = record["params"]["members" if workload == "fanout" else "room_size"]
    run = record["runs"][0]
    assert record["summary"]["deliveries_per_s"] > 0
    assert run["steps"], run
    for step in run["steps"]:
        assert_clean(step)
        assert step["expected"] == step["sent"] * (size - 1)  # as the IRC door: no echo


@pytest.mark.timeout(60)
def test_rooms_quick_mode_over_irc_delivers_everything(tmp_path: Path) -> None:
    record = run_quick("rooms", tmp_path, "--protocol", "irc")
    run = record["runs"][0]
    size = record["params"]["room_size"]
    for step in run["steps"]:
        assert_clean(step)
        assert step["expected"] == step["sent"] * (size - 1)


@pytest.mark.timeout(60)
def test_idle_quick_mode_logs_everyone_in(tmp_path: Path) -> None:
    record = run_quick("idle", tmp_path)
    run = record["runs"][0]
    assert run["connections"] == record["params"]["connections"] == 20
    assert run["login"]["errors"] == []
    assert run["server_rss_kib_before"] > 0 and run["server_rss_kib_after"] > 0
    assert run["connect_wall_s"] > 0


@pytest.mark.timeout(60)
def test_slow_quick_mode_drops_the_stalled_member_and_no_one_else(tmp_path: Path) -> None:
    record = run_quick("slow", tmp_path)
    run = record["runs"][0]
    members = record["params"]["members"]
    assert run["dropped"], run["stalled"]
    assert run["stalled"]["stalled_how"][0].split(": ")[1] in ("eof", "reset")
    assert run["stalled"]["quit_notices"] == members  # each other member heard it leave
    for side in ("baseline", "stalled"):
        assert_clean(run[side]["step"])


@pytest.mark.timeout(60)
def test_login_storm_runs_both_conditions_and_prints_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "storm.json"
    done = subprocess.run(
        [sys.executable, "bench/login_storm.py", "--rate", "4", "--seconds", "1",
         "--rounds", "1", "--members", "3", "--accounts", "4", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert "chat p99 storm / alone:" in done.stdout
    record: dict[str, Any] = json.loads(out.read_text())
    assert record["flood_control"] == "off (--rate 0)"
    assert [p["condition"] for p in record["phases"]] == ["alone", "storm"]
    for condition in ("alone", "storm"):
        chat = record["conditions"][condition]["chat"]
        assert chat["deliveries"] > 0 and chat["lost"] == chat["reorders"] == 0
        assert 0 < chat["p50_ms"] <= chat["p99_ms"] <= chat["max_ms"]
    logins = record["conditions"]["storm"]["logins"]
    assert logins["attempted"] == logins["ok"] == 4 and logins["errors"] == {}
    assert all(logins["doors"][door]["p50_ms"] > 0 for door in ("text", "irc"))
    assert "logins" not in record["conditions"]["alone"]


@pytest.mark.timeout(90)
def test_devices_quick_mode_delivers_to_every_connection_of_every_account(
    tmp_path: Path,
) -> None:
    out = tmp_path / "devices.json"
    done = subprocess.run(
        [sys.executable, "bench/devices.py", "all", "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=80,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    records: list[dict[str, Any]] = json.loads(out.read_text())
    assert [r["workload"] for r in records] == ["fanout", "rooms"]
    assert records[0]["devices_layout"].startswith("4 accounts in the room (2 x 3, 2 x 2")
    assert records[1]["devices_layout"].startswith("2 accounts per room (4 x 3, 4 x 2")
    for record in records:
        assert record["server_cpu_devices_over_guests"]["pairs"] >= 0
        p = record["params"]
        reach = p["members"] if record["workload"] == "fanout" else p["room_size"]
        for case in ("guests", "devices"):
            assert record["summary"][case]["deliveries_per_s"] > 0
            (run,) = record["runs"][case]
            assert run["login"]["errors"] == [] and run["steps"], run
            for step in run["steps"]:
                assert_clean(step)
                assert step["expected"] == step["sent"] * reach  # every connection got each
