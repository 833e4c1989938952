"""bench/versus.py's quick mode runs end to end: our server's doors, and InspIRCd's
column too when ``inspircd`` is installed (else skipped with one line saying so).

It runs ``python bench/versus.py --quick --json FILE`` as a subprocess and checks the
table it prints and the runs it keeps: every row measured on every target it names,
every sweep step clean, and nothing written to bench/RESULTS.md or README.md.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROWS = {
    "fanout-10": ["text", "irc", "websocket", "inspircd"],
    "rooms": ["text", "irc", "inspircd"],
    "idle": ["text", "irc", "inspircd"],
    "tls_idle": ["text"],
    "slow": ["text", "irc", "inspircd"],
    "storm": ["text"],
}
SKIPPED = "inspircd is not installed (apt-get install inspircd): its column is skipped"


def has_inspircd() -> bool:
    return shutil.which("inspircd") is not None or Path("/usr/sbin/inspircd").exists()


@pytest.mark.timeout(200)
def test_versus_quick_mode_measures_every_row_and_writes_no_file(tmp_path: Path) -> None:
    out = tmp_path / "versus.json"
    watched = [ROOT / "bench" / "RESULTS.md", ROOT / "README.md"]
    before = [path.read_bytes() for path in watched]
    done = subprocess.run(
        [sys.executable, "bench/versus.py", "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert [path.read_bytes() for path in watched] == before
    inspircd = has_inspircd()
    assert (SKIPPED in done.stdout) is not inspircd
    record: dict[str, Any] = json.loads(out.read_text())
    runs: dict[str, dict[str, list[dict[str, Any]]]] = record["runs"]
    assert sorted(runs) == sorted(ROWS)
    for row, targets in ROWS.items():
        wanted = [t for t in targets if t != "inspircd" or inspircd]
        assert sorted(runs[row]) == sorted(wanted), row
    for row in ("fanout-10", "rooms"):
        for target, (result,) in runs[row].items():
            assert result["dps"] > 0, (row, target)
            for step in result["run"]["steps"]:
                assert step["received"] == step["expected"] > 0, (row, target, step)
                for count in ("missing", "extra", "dups", "reorders", "disconnects"):
                    assert step[count] == 0, (row, target, count, step)
    for target, (result,) in runs["idle"].items():
        assert result["run"]["connections"] == 20 and result["run"]["login"]["errors"] == []
        assert result["bytes"] != 0, target
    for target, (result,) in runs["slow"].items():
        assert result["dropped"], (target, result["run"]["stalled"])
        assert result["ratio"] > 0
    assert runs["tls_idle"]["text"][0]["run"]["connections"] == 10
    assert runs["storm"]["text"][0]["ratio"] > 0
    table, _, limits = record["table"].partition("\n\nOthers' CPU")
    assert table.count("\n| ") == 2 + len(ROWS)  # the head, its rule, a line per row
    # where each sweep stopped: the head, its rule, a line per door of each sweep's row
    sweeps = sum(len(runs[row]) for row in ("fanout-10", "rooms"))
    assert limits.count("\n| ") == 2 + sweeps, limits
    assert ("InspIRCd-3" in record["table"]) is inspircd


@pytest.mark.timeout(120)
def test_versus_without_inspircd_says_so_in_one_line_and_runs_our_doors(tmp_path: Path) -> None:
    out = tmp_path / "versus.json"
    done = subprocess.run(
        [sys.executable, "bench/versus.py", "--quick", "--inspircd", "", "--only", "fanout-10",
         "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=100, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    said = [line for line in done.stdout.splitlines() if "inspircd" in line.lower()]
    assert said[0] == SKIPPED, said
    record: dict[str, Any] = json.loads(out.read_text())
    assert sorted(record["runs"]["fanout-10"]) == ["irc", "text", "websocket"]
    row = next(line for line in record["table"].splitlines() if line.startswith("| fan-out"))
    assert row.split(" | ")[4] == "-"  # InspIRCd's cell
