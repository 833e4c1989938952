"""server.py's main under tracemalloc: ``python bench/traced_server.py SERVER-ARGS ...``.

For bench/idle_profile.py: where the server's bytes go. Tracing starts before the
server imports, with ``TRACED_FRAMES`` frames a trace (default 1: the allocating line).
On SIGUSR2 it writes, into the directory ``TRACED_DIR`` names (default the current
one), ``snapshot-N.pickle`` (a tracemalloc snapshot) and ``types-N.json`` (the
garbage collector's objects by type: count and bytes, sys.getsizeof each), each first
under a temporary name and then renamed, so a reader that sees the file sees it
whole. Bench-only: server.py knows nothing of it. Tracing costs time and memory of its
own, so the RSS figures come from a run of server.py itself.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import tracemalloc
from collections import Counter
from pathlib import Path
from types import FrameType


def types_histogram() -> dict[str, list[int]]:
    """Every object the collector tracks, by type: [count, bytes] (shallow sizes)."""
    counts: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for obj in gc.get_objects():
        kind = type(obj)
        name = f"{kind.__module__}.{kind.__qualname__}"
        counts[name] += 1
        sizes[name] += sys.getsizeof(obj)
    return {name: [counts[name], sizes[name]] for name in counts}


def dump(directory: Path, n: int) -> None:
    """Write snapshot-N.pickle and types-N.json into `directory`."""
    snapshot = tracemalloc.take_snapshot()
    temp = directory / f".snapshot-{n}.tmp"
    snapshot.dump(str(temp))
    temp.rename(directory / f"snapshot-{n}.pickle")
    temp = directory / f".types-{n}.tmp"
    temp.write_text(json.dumps(types_histogram()))
    temp.rename(directory / f"types-{n}.json")
    print(f"traced_server: wrote snapshot-{n}", file=sys.stderr, flush=True)


def main() -> int:
    directory = Path(os.environ.get("TRACED_DIR", "."))
    tracemalloc.start(int(os.environ.get("TRACED_FRAMES", "1")))
    taken = 0

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal taken
        taken += 1
        dump(directory, taken)

    signal.signal(signal.SIGUSR2, on_signal)
    sys.path.insert(0, os.getcwd())  # the checkout it runs in (bench/idle_profile.py --tree)
    import server  # after tracing starts: its imports are traced too

    return server.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
