"""atomic.lock (filelock) between processes: one holder at a time, a timeout in one line, a killed holder
never leaves a stale lock, and the lock file stays in place."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from distilled_registry import atomic

HOLD = """
import sys, time
from distilled_registry import atomic
with atomic.lock(sys.argv[1], what="the pins"):
    print("held", flush=True)
    time.sleep(600)
"""

COUNT = """
import sys, time
from pathlib import Path
from distilled_registry import atomic
lock, counter, n, me = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
Path(f"{counter}.ready-{me}").touch()
while not Path(f"{counter}.go").exists():  # all start together, so that their loops overlap
    time.sleep(0.005)
for _ in range(n):
    with atomic.lock(lock):
        value = int(counter.read_text())  # a read-modify-write with a gap: two holders at once would lose counts
        counter.write_text(str(value + 1))
"""


def test_a_held_lock_times_out_in_one_line_and_a_killed_holder_releases_it(tmp_path):
    path = tmp_path / "state" / ".pins.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        t = time.monotonic()
        with pytest.raises(atomic.LockTimeout) as e:
            with atomic.lock(path, timeout=0.3, what="the pins"):
                pytest.fail("two holders of one lock")
        assert time.monotonic() - t >= 0.3
        message = str(e.value)
        assert "\n" not in message and "'the pins' is locked by another process" in message
        assert str(path) in message and "for over 0.3 s" in message
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=60)
        holder.stdout.close()
    t = time.monotonic()
    with atomic.lock(path, timeout=5) as held:  # the kernel dropped the dead holder's flock
        assert held == path and path.is_file()
    assert time.monotonic() - t < 2
    assert path.is_file()  # never removed: a waiter on a removed file would lock another inode


def test_processes_under_the_lock_never_lose_an_update(tmp_path):
    counter, lock = tmp_path / "counter", tmp_path / ".counter.lock"
    counter.write_text("0")
    procs = [subprocess.Popen([sys.executable, "-c", COUNT, str(lock), str(counter), "50", str(i)]) for i in range(4)]
    deadline = time.monotonic() + 300
    while len(list(tmp_path.glob("counter.ready-*"))) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    (tmp_path / "counter.go").touch()
    assert [p.wait(timeout=300) for p in procs] == [0] * 4
    assert counter.read_text() == "200"
