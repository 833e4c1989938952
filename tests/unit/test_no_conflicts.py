"""No merge left its conflict markers in a file the repository tracks."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(rb"^(<{7} |={7}$|>{7} )", re.MULTILINE)


def test_no_tracked_file_holds_a_merge_conflict_marker() -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30
    ).stdout.split(b"\0")
    found = []
    for name in filter(None, listed):
        path = ROOT / name.decode()
        texts = {".py", ".md", ".toml", ".txt", ".js", ".html", ".css", ".sh", ""}
        if path.suffix in texts and path.is_file() and MARKER.search(path.read_bytes()):
            found.append(name.decode())
    assert found == []
