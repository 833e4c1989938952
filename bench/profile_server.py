"""Profile the server under fanout or rooms load with py-spy (an optional extra), top lines only.

Starts the server and a load at a fixed rate, attaches ``py-spy record --format
raw`` to the server for a while, and reduces the stacks to the functions with the
most samples: self (the function itself was running) and inclusive (on the stack).
Without py-spy installed it says how to install it and does nothing else.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from driver import Generator, WorkerOptions
from plan import ClientSpec
from sweep import SweepConfig, describe, order_for, verdict
from workloads import Say, ServerSpec, login_and_sync

TOP_SELF = 15
TOP_INCLUSIVE = 20


def find_py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def top_lines(raw: str) -> list[str]:
    """The heaviest frames of a py-spy raw (collapsed stacks) file, as table lines."""
    own: Counter[str] = Counter()
    on_stack: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames = stack.split(";")
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            on_stack[frame] += int(count)
    total = max(total, 1)
    lines = [f"{total} samples. Self (the function itself running):"]
    lines += [f"{n / total:6.1%}  {frame}" for frame, n in own.most_common(TOP_SELF)]
    lines += ["Inclusive (on the stack):"]
    lines += [f"{n / total:6.1%}  {frame}" for frame, n in on_stack.most_common(TOP_INCLUSIVE)]
    return lines


def profile(
    server: ServerSpec,
    clients: list[ClientSpec],
    cfg: SweepConfig,
    dps: float,
    seconds: int,
    opts: WorkerOptions,
    say: Say,
    keep_raw: Path | None = None,
) -> list[str]:
    """Profile the server for ``seconds`` under ``clients`` at ``dps``; return the top lines."""
    py_spy = find_py_spy()
    if py_spy is None:
        raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
    with (
        server.start() as proc,
        Generator(clients, 2, opts) as gen,
        tempfile.TemporaryDirectory() as tmp,
    ):
        login_and_sync(gen, proc, say)
        out = Path(tmp) / "raw.txt"
        argv = [py_spy, "record", "-p", str(proc.pid), "-d", str(seconds), "-r", "200"]
        spy = subprocess.Popen(
            [*argv, "-f", "raw", "-o", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        index = 0
        while spy.poll() is None and index < seconds + 5:
            index += 1
            result = gen.step(dps, order_for(cfg, dps, 1.0), proc.cpu_probe)
            say(describe(index, result, verdict(result, cfg.p99_limit_ms)))
        _, errors = spy.communicate(timeout=30)
        if not out.exists():
            raise RuntimeError(f"py-spy wrote nothing: {errors}")
        if keep_raw is not None:
            shutil.copyfile(out, keep_raw)
        return top_lines(out.read_text())
