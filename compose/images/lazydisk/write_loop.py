#!/usr/bin/python3
"""A write loop on a plain directory and on lazydisk over a directory of the same filesystem:
the time of each workload on both and their ratio (plain / lazydisk: 1.0 = as fast, 0.5 = half
as fast). Run it in a container of the lazydisk image (README.md says how).

Workloads: sequential 4 KiB writes with no fsync (a page cache's best case), 4 KiB appends each
followed by fdatasync (a database's commit), 128 KiB writes, reading a clean file back, and
small files created, written and closed (carbon's whisper files, a directory of metrics).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable

ROOT = sys.argv[1] if len(sys.argv) > 1 else "/var/tmp/lazydisk-bench"
MiB = 1 << 20


def seq_4k(d: str) -> str:
    fd = os.open(f"{d}/seq", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    block = os.urandom(4096)
    for _ in range(64 * MiB // 4096):
        os.write(fd, block)
    os.close(fd)
    return "64 MiB in 4 KiB writes, no fsync"


def commit_loop(d: str) -> str:
    fd = os.open(f"{d}/log", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    block = os.urandom(4096)
    for _ in range(500):
        os.write(fd, block)
        os.fdatasync(fd)
    os.close(fd)
    return "500 x (4 KiB append + fdatasync)"


def seq_128k(d: str) -> str:
    fd = os.open(f"{d}/big", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    block = os.urandom(128 * 1024)
    for _ in range(256 * MiB // len(block)):
        os.write(fd, block)
    os.fsync(fd)
    os.close(fd)
    return "256 MiB in 128 KiB writes, one fsync"


def read_clean(d: str) -> str:
    fd = os.open(f"{d}/big", os.O_RDONLY)
    while os.read(fd, 128 * 1024):
        pass
    os.close(fd)
    return "256 MiB read back (written back: clean)"


def small_files(d: str) -> str:
    os.makedirs(f"{d}/small", exist_ok=True)
    for i in range(2000):
        with open(f"{d}/small/{i}.wsp", "wb") as f:
            f.write(b"x" * 100)
    return "2000 files created, 100 bytes written, closed"


WORKLOADS: list[Callable[[str], str]] = [seq_4k, commit_loop, seq_128k, read_clean, small_files]


def mounted(path: str) -> bool:
    with open("/proc/mounts", encoding="ascii") as f:
        return any(line.split()[1] == path for line in f)


def timed(work: Callable[[str], str], d: str) -> tuple[str, float]:
    started = time.perf_counter()
    what = work(d)
    return what, time.perf_counter() - started


def main() -> int:
    shutil.rmtree(ROOT, ignore_errors=True)
    plain, backing, mnt = f"{ROOT}/plain", f"{ROOT}/backing", f"{ROOT}/mnt"
    for d in (plain, backing, mnt):
        os.makedirs(d)
    layer = subprocess.Popen(["lazydisk", "mount", "--backing", backing, mnt])
    deadline = time.monotonic() + 10
    while not mounted(mnt):
        if layer.poll() is not None or time.monotonic() > deadline:
            return 2
        time.sleep(0.02)
    try:
        print(f"{'workload':48} {'plain':>8} {'lazydisk':>9} {'ratio':>6}")
        for work in WORKLOADS:
            what, on_plain = timed(work, plain)
            _, on_lazy = timed(work, mnt)
            if work is seq_128k:  # the read that follows reads clean pages from the backing file
                subprocess.run(["lazydisk", "sync", mnt], check=True)
            print(f"{what:48} {on_plain:7.2f}s {on_lazy:8.2f}s {on_plain / on_lazy:6.2f}")
    finally:
        layer.terminate()
        layer.wait()
        shutil.rmtree(ROOT, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
