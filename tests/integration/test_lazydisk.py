"""The lazy disk's specification table (compose/images/lazydisk/README.md), row by row, on a
real FUSE mount: one container from the harness's base image plus fuse3/python3-pyfuse3, a fresh
mount per row over a backing directory; the row's operations run, the layer is SIGKILLed (a
power loss) or stopped, and the BACKING directory says what a disk would hold.
"""

from __future__ import annotations

import json
import re
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from docker.models.containers import Container

from reboot_harness.inputs.paths import default_compose_dir
from reboot_harness.stack.engine import client
from reboot_harness.stack.images import IMAGE_REPO, build_lock, context_hash, ensure_base_image

pytestmark = pytest.mark.docker

LAYER_DIR = default_compose_dir() / "images" / "lazydisk"
TABLE = LAYER_DIR / "README.md"

# Runs one row inside the container: mount, operations (a process of their own, in the mount),
# the end, then the backing directory's top level as JSON ({name: text, or "dir/"}).
ROW_RUNNER = r"""
import hashlib, json, os, shutil, signal, subprocess, sys, time
row = json.loads(sys.argv[1])
base = "/rows/" + row["id"]
backing, mnt = base + "/backing", row.get("mountpoint") or base + "/mnt"
shutil.rmtree(base, ignore_errors=True)
os.makedirs(backing)
os.makedirs(mnt, exist_ok=True)
for name, text in row["before"].items():
    with open(os.path.join(backing, name), "w") as f:
        f.write(text)
log = open(base + "/log", "w")
argv = ["lazydisk", "mount", *row["options"]]
if mnt != backing:
    argv += ["--backing", backing]
layer = subprocess.Popen(argv + [mnt], stderr=log)
deadline = time.monotonic() + 10
def mounted():
    return any(l.split()[1:3] == [mnt, "fuse.lazydisk"] for l in open("/proc/mounts"))
while not mounted():
    if layer.poll() is not None or time.monotonic() > deadline:
        sys.exit("no mount: " + open(base + "/log").read())
    time.sleep(0.02)
ops = subprocess.run([sys.executable, "-c", row["ops"]], cwd=mnt, capture_output=True, text=True)
if row["end"] == "SIGKILL":
    layer.kill()
    layer.wait()
    subprocess.run(["umount", "-l", mnt], check=True)
elif row["end"] == "SIGTERM":
    layer.terminate()
    layer.wait(timeout=20)
else:
    subprocess.run(["umount", mnt], check=True)
    layer.wait(timeout=20)
disk, owners = {}, {}
names = []
for top, dirs, files in os.walk(backing):
    names += [os.path.relpath(os.path.join(top, n), backing) for n in dirs + files]
for name in sorted(names):
    path = os.path.join(backing, name)
    st = os.lstat(path)
    owners[name] = [st.st_uid, st.st_gid, oct(st.st_mode & 0o7777)]
    if os.path.islink(path):
        disk[name] = "-> " + os.readlink(path)
        continue
    if os.path.isdir(path):
        disk[name] = "dir/"
        continue
    data = open(path, "rb").read()
    try:
        disk[name] = data.decode()
    except UnicodeDecodeError:
        disk[name] = "sha256:%s, %d bytes" % (hashlib.sha256(data).hexdigest(), len(data))
print(json.dumps({"disk": disk, "owners": owners, "ops": ops.returncode, "stderr": ops.stderr,
                  "exit": layer.returncode, "log": open(base + "/log").read()}))
"""

WRITE = "fd = os.open('f', os.O_CREAT | os.O_WRONLY, 0o644); os.write(fd, b'data')"
TMP = "fd = os.open('tmp', os.O_CREAT | os.O_WRONLY, 0o644); os.write(fd, b'new')"
DIRECT = (
    "import mmap; buf = mmap.mmap(-1, 4096); buf.write(b'd' * 4096);"
    " fd = os.open('f', os.O_CREAT | os.O_WRONLY | os.O_DIRECT, 0o644)"
)
AGED = ["--dirty-expire", "1", "--writeback-interval", "0.2"]


@dataclass(frozen=True)
class Row:
    """One row of the table: what runs in the mount, how the layer ends, what the disk holds."""

    ops: str
    end: str
    disk: dict[str, str | None]  # name -> content; None: the name is gone
    before: dict[str, str] | None = None  # on the backing disk before the mount
    options: tuple[str, ...] = ()


ROWS: dict[str, Row] = {
    "write-fsync-kill": Row(f"{WRITE}; os.fsync(fd); os.close(fd)", "SIGKILL", {"f": "data"}),
    "write-fsync-in-a-thread-kill": Row(
        f"{WRITE}; os.fsync(fd); os.close(fd)",
        "SIGKILL",
        {"f": "data"},
        options=("--inline-fsync-below", "0"),
    ),
    "write-fdatasync-kill": Row(
        f"{WRITE}; os.fdatasync(fd); os.close(fd)", "SIGKILL", {"f": "data"}
    ),
    "create-write-close-kill": Row(f"{WRITE}; os.close(fd)", "SIGKILL", {"f": ""}),
    "overwrite-kill": Row(
        "fd = os.open('f', os.O_WRONLY); os.pwrite(fd, b'NEW', 0); os.close(fd)",
        "SIGKILL",
        {"f": "old data"},
        before={"f": "old data"},
    ),
    "osync-write-kill": Row(
        "fd = os.open('f', os.O_CREAT | os.O_WRONLY | os.O_SYNC, 0o644); os.write(fd, b'data')",
        "SIGKILL",
        {"f": "data"},
    ),
    "odsync-write-kill": Row(
        "fd = os.open('f', os.O_CREAT | os.O_WRONLY | os.O_DSYNC, 0o644); os.write(fd, b'data')",
        "SIGKILL",
        {"f": "data"},
    ),
    "odirect-write-kill": Row(f"{DIRECT}; os.write(fd, buf)", "SIGKILL", {"f": ""}),
    "odirect-write-fsync-kill": Row(
        f"{DIRECT}; os.write(fd, buf); os.fsync(fd)", "SIGKILL", {"f": "d" * 4096}
    ),
    "write-sync-kill": Row(f"{WRITE}; os.close(fd); os.sync()", "SIGKILL", {"f": ""}),
    "write-lazydisk-sync-kill": Row(
        f"{WRITE}; os.close(fd); import subprocess;"
        " subprocess.run(['lazydisk', 'sync', '.'], check=True)",
        "SIGKILL",
        {"f": "data"},
    ),
    "write-wait-past-age-kill": Row(
        f"{WRITE}; os.close(fd); import time; time.sleep(1.6)",
        "SIGKILL",
        {"f": "data"},
        options=tuple(AGED),
    ),
    "write-younger-than-age-kill": Row(
        f"{WRITE}; os.close(fd)", "SIGKILL", {"f": ""}, options=tuple(AGED)
    ),
    "write-past-background-bytes-kill": Row(
        "fd = os.open('f', os.O_CREAT | os.O_WRONLY, 0o644); os.write(fd, b'b' * 100_000);"
        " import time; time.sleep(0.5)",
        "SIGKILL",
        {"f": "b" * 100_000},
        options=("--dirty-background-bytes", "65536"),
    ),
    "write-graceful-stop": Row(f"{WRITE}; os.close(fd)", "SIGTERM", {"f": "data"}),
    "write-unmount": Row(f"{WRITE}; os.close(fd)", "umount", {"f": "data"}),
    "fsync-rename-kill": Row(
        f"{TMP}; os.fsync(fd); os.close(fd); os.rename('tmp', 'g')",
        "SIGKILL",
        {"g": "new", "tmp": None},
    ),
    "rename-directory-fsync-kill": Row(
        "os.mkdir('d'); fd = os.open('d/f', os.O_CREAT | os.O_WRONLY, 0o644);"
        " os.write(fd, b'data'); os.rename('d', 'e'); os.fsync(fd)",
        "SIGKILL",
        {"e": "dir/", "e/f": "data"},
    ),
    "rename-unsynced-kill": Row(
        f"{TMP}; os.close(fd); os.rename('tmp', 'g')", "SIGKILL", {"g": "", "tmp": None}
    ),
    "rename-over-unsynced-kill": Row(
        f"{TMP}; os.close(fd); os.rename('tmp', 'f')",
        "SIGKILL",
        {"f": "new", "tmp": None},
        before={"f": "old"},
    ),
    "truncate-write-close-kill": Row(
        "fd = os.open('f', os.O_WRONLY | os.O_TRUNC); os.write(fd, b'new'); os.close(fd)",
        "SIGKILL",
        {"f": ""},
        before={"f": "old"},
    ),
    "truncate-kill": Row("os.truncate('f', 3)", "SIGKILL", {"f": "old"}, before={"f": "old data"}),
    "unlink-kill": Row("os.unlink('f')", "SIGKILL", {"f": None}, before={"f": "old"}),
    "mkdir-kill": Row("os.mkdir('d')", "SIGKILL", {"d": "dir/"}),
    "symlink-kill": Row("os.symlink('f', 'l')", "SIGKILL", {"l": "-> f"}),
    "link-unsynced-kill": Row(
        f"{WRITE}; os.close(fd); os.link('f', 'g')", "SIGKILL", {"f": "", "g": ""}
    ),
}


def rendered(disk: dict[str, str | None]) -> str:
    """A row's last column: `f = "data"`, `f = ""`, `f gone`, `d/ exists`."""
    parts = []
    for name, text in disk.items():
        if text is None:
            parts.append(f"`{name}` gone")
        elif text == "dir/":
            parts.append(f"`{name}/` exists")
        elif text.startswith("-> "):
            parts.append(f"`{name}` \N{RIGHTWARDS ARROW} `{text[3:]}`")
        elif len(text) > 16:
            parts.append(f'`{name}` = {len(text)} \N{MULTIPLICATION SIGN} "{text[0]}"')
        else:
            parts.append(f'`{name}` = "{text}"')
    return ", ".join(parts)


def table_rows() -> list[list[str]]:
    """The specification table's rows: cells of the lines that start with a row name."""
    lines = TABLE.read_text(encoding="utf-8").splitlines()
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]
    return [row for row in cells if re.fullmatch(r"`[a-z-]+`", row[0])]


@pytest.fixture(scope="module")
def box() -> Iterator[Container]:
    """One container with the layer (its image built like the hosts' images, once per content)."""
    base = ensure_base_image()
    tag = f"{IMAGE_REPO}/lazydisk:h-{context_hash(LAYER_DIR, client().images.get(base).id)}"
    with build_lock():
        if not client().images.list(name=tag):
            client().images.build(
                path=str(LAYER_DIR),
                dockerfile="lazydisk.Dockerfile",
                tag=tag,
                buildargs={"BASE_IMAGE": base},
                rm=True,
                forcerm=True,
            )
    container = client().containers.run(
        tag,
        ["sleep", "infinity"],
        name=f"rh-test-lazydisk-{uuid.uuid4().hex[:8]}",
        detach=True,
        devices=["/dev/fuse:/dev/fuse:rwm"],
        cap_add=["SYS_ADMIN"],
        init=True,
    )
    try:
        yield container
    finally:
        container.remove(force=True)


def run_row(box: Container, name: str, row: Row, mountpoint: str | None = None) -> dict:
    spec = {
        "id": name,
        "ops": "import os\n" + row.ops,
        "end": row.end,
        "before": row.before or {},
        "options": list(row.options),
        "mountpoint": mountpoint,
    }
    code, out = box.exec_run(["python3", "-c", ROW_RUNNER, json.dumps(spec)])
    assert code == 0, out.decode(errors="replace")
    result: dict = json.loads(out.decode())
    assert result["ops"] == 0, result["stderr"]
    return result


def test_the_table_and_the_tests_have_the_same_rows() -> None:
    """Every row of the README's table is a test below with the same end and the same disk
    afterwards, in the same order, and no test is missing from the table."""
    table = [(row[0].strip("`"), row[2], row[3]) for row in table_rows()]
    tests = [(name, row.end, rendered(row.disk)) for name, row in ROWS.items()]
    assert table == tests


@pytest.mark.parametrize("name", list(ROWS))
def test_row(box: Container, name: str) -> None:
    """The backing directory holds what the table says after the row's operations and end."""
    row = ROWS[name]
    result = run_row(box, name, row)
    expected = {k: v for k, v in row.disk.items() if v is not None}
    assert result["disk"] == expected, result["log"]


def test_the_layer_mounted_over_its_own_directory_keeps_the_bytes_there(box: Container) -> None:
    """The default mount hides the backing directory under itself: after a power loss the
    directory holds the fsynced file and the unsynced one empty."""
    row = Row(
        f"{WRITE}; os.fsync(fd); os.close(fd);"
        " fd = os.open('g', os.O_CREAT | os.O_WRONLY, 0o644); os.write(fd, b'lost'); os.close(fd)",
        "SIGKILL",
        {},
    )
    result = run_row(box, "overmount", row, mountpoint="/rows/overmount/backing")
    assert result["disk"] == {"f": "data", "g": ""}, result["log"]


def test_writes_are_read_at_once_by_other_processes_and_users(box: Container) -> None:
    """A write lands in the layer's memory and another process (another user, through
    allow_other) reads it at once; a file a service user creates is its own, with its mode;
    owners and modes set through the layer are on the disk at once."""
    script = textwrap.dedent(
        """
        import subprocess
        def as_nobody():
            os.setgid(65534)
            os.setuid(65534)
        os.chown(".", 65534, 65534)
        subprocess.run(["sh", "-c", "umask 077; echo mine > own"], preexec_fn=as_nobody, check=True)
        st = os.stat("own")
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (65534, 65534, 0o600), st
        with open("shared", "w") as f:  # root's, 0644
            f.write("now")
            f.flush()
            seen = subprocess.run(["cat", "shared"], capture_output=True, text=True).stdout
            assert seen == "now", seen
        read = subprocess.run(["cat", "shared"], preexec_fn=as_nobody, capture_output=True)
        assert read.stdout == b"now", read
        denied = subprocess.run(["sh", "-c", "echo x >> shared"], preexec_fn=as_nobody)
        assert denied.returncode != 0
        os.chmod("shared", 0o640)
        os.chown("shared", 0, 65534)
        """
    )
    result = run_row(box, "users", Row(script, "SIGKILL", {}))
    assert result["disk"] == {"own": "", "shared": ""}, result
    # Owners and modes are metadata: on the disk at once, the power loss notwithstanding.
    assert result["owners"] == {"own": [65534, 65534, "0o600"], "shared": [0, 65534, "0o640"]}


def test_status_counts_the_dirty_bytes_and_sync_empties_them(box: Container) -> None:
    """`lazydisk status` says what the layer holds; after `lazydisk sync` it holds nothing."""
    script = textwrap.dedent(
        """
        import json, subprocess
        def status():
            out = subprocess.run(["lazydisk", "status", "."], capture_output=True, check=True)
            return json.loads(out.stdout)
        fd = os.open("f", os.O_CREAT | os.O_WRONLY, 0o644)
        os.write(fd, b"x" * 10000)
        held = status()
        assert (held["dirty_bytes"], held["dirty_files"]) == (3 * 4096, 1), held
        assert held["rss_bytes"] > held["dirty_bytes"], held
        subprocess.run(["lazydisk", "sync", "."], check=True)
        held = status()
        assert (held["dirty_bytes"], held["dirty_files"]) == (0, 0), held
        """
    )
    result = run_row(box, "status", Row(script, "SIGKILL", {}))
    assert result["disk"] == {"f": "x" * 10000}, result


def test_a_command_runs_on_the_mount_and_its_end_writes_everything_back(box: Container) -> None:
    """`lazydisk mount DIR -- COMMAND`: the command sees the mount, SIGTERM reaches it, and when
    it exits the layer writes back, unmounts and exits with the command's status."""
    started = time.monotonic()
    _, out = box.exec_run(
        [
            "sh",
            "-c",
            "mkdir -p /cmd && rm -rf /cmd/* && lazydisk mount /cmd -- sh -c "
            '\'grep -q " /cmd fuse.lazydisk " /proc/mounts && printf kept > /cmd/f'
            ' && trap "exit 7" TERM && kill -TERM $PPID; while :; do sleep 0.1; done\''
            "; echo exit=$?; echo $(cat /cmd/f); grep -c ' /cmd ' /proc/mounts",
        ]
    )
    assert out.decode().splitlines()[-3:] == ["exit=7", "kept", "0"], out.decode()
    assert time.monotonic() - started < 20


def test_random_writes_truncates_and_reads_behave_like_a_plain_file(box: Container) -> None:
    """Two thousand random writes (partial pages, across pages, past the end, appends),
    truncates, fsyncs and reads on the mount give what the same calls give on a plain file, at
    every read; after a final fsync and a power loss the backing file is that file."""
    script = textwrap.dedent(
        """
        import random
        rng = random.Random(22)
        ref = os.open("/tmp/ref", os.O_CREAT | os.O_TRUNC | os.O_RDWR, 0o644)
        lazy = os.open("f", os.O_CREAT | os.O_RDWR, 0o644)
        ref_end = os.open("/tmp/ref", os.O_WRONLY | os.O_APPEND)
        lazy_end = os.open("f", os.O_WRONLY | os.O_APPEND)
        for step in range(2000):
            kind = rng.random()
            if kind < 0.45:
                off, n = rng.randrange(0, 150_000), rng.choice([1, 7, 4096, 5000, 70_000])
                data = rng.randbytes(n)
                assert os.pwrite(lazy, data, off) == os.pwrite(ref, data, off) == n
            elif kind < 0.55:
                data = rng.randbytes(rng.randrange(1, 9000))
                os.write(lazy_end, data)
                os.write(ref_end, data)
            elif kind < 0.62:
                size = rng.randrange(0, 160_000)
                os.ftruncate(lazy, size)
                os.ftruncate(ref, size)
            elif kind < 0.65:
                os.fsync(lazy)
            else:
                off, n = rng.randrange(0, 170_000), rng.randrange(1, 20_000)
                got, want = os.pread(lazy, n, off), os.pread(ref, n, off)
                assert got == want, (step, off, n, len(got), len(want))
                assert os.fstat(lazy).st_size == os.fstat(ref).st_size, step
        os.fsync(lazy)
        size = os.fstat(ref).st_size
        assert os.pread(lazy, size + 1, 0) == os.pread(ref, size + 1, 0)
        with open("ref", "wb") as copy:  # the test compares the two on the backing disk
            copy.write(os.pread(ref, size, 0))
            os.fsync(copy.fileno())
        """
    )
    result = run_row(box, "random", Row(script, "SIGKILL", {}))
    assert result["disk"]["f"] == result["disk"]["ref"], result["disk"]
    assert result["disk"]["f"].startswith("sha256:")


def test_xattrs_are_refused_unless_asked_for_and_then_kept_at_once(box: Container) -> None:
    """By default a file on the layer has no extended attributes (EOPNOTSUPP, and the kernel
    stops asking before each write); with --xattrs they pass through, at once, like metadata."""
    script = textwrap.dedent(
        """
        import errno
        open("f", "w").close()
        try:
            os.setxattr("f", "user.k", b"v")
        except OSError as e:
            assert e.errno == errno.EOPNOTSUPP, e
        else:
            raise AssertionError("an xattr was set without --xattrs")
        """
    )
    refused = run_row(box, "no-xattrs", Row(script, "SIGKILL", {}))
    assert refused["disk"] == {"f": ""}
    script = 'open("f", "w").close(); os.setxattr("f", "user.k", b"v")'
    kept = run_row(box, "xattrs", Row(script, "SIGKILL", {}, options=("--xattrs",)))
    assert kept["disk"] == {"f": ""}
    read = "import os; print(os.getxattr('/rows/xattrs/backing/f', 'user.k').decode())"
    code, out = box.exec_run(["python3", "-c", read])
    assert (code, out) == (0, b"v\n"), out


@pytest.mark.parametrize(
    ("given", "needed"),
    [
        ({}, "/dev/fuse cannot be opened (No such file or directory): the container needs"),
        ({"devices": ["/dev/fuse:/dev/fuse:rwm"]}, "mount(2) needs CAP_SYS_ADMIN"),
    ],
)
def test_a_container_without_fuse_gets_one_line_saying_what_it_needs(
    box: Container, given: dict[str, list[str]], needed: str
) -> None:
    """Without /dev/fuse, or without CAP_SYS_ADMIN, `lazydisk mount` exits 2 with one line
    naming what the container needs and the way out (durability: off)."""
    run = client().containers.run(
        box.image.id,
        ["sh", "-c", "mkdir -p /m; lazydisk mount /m; echo exit=$?"],
        name=f"rh-test-lazydisk-nofuse-{uuid.uuid4().hex[:8]}",
        remove=True,
        stderr=True,
        **given,
    )
    lines = run.decode().splitlines()
    assert lines[-1] == "exit=2", lines
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"lazydisk: cannot mount /m: {needed}"), lines
    assert lines[0].endswith("(or run this host with durability: off)"), lines


def test_lazydisk_off_runs_the_command_on_the_plain_directory(box: Container) -> None:
    """With LAZYDISK=off, `lazydisk mount DIR -- COMMAND` mounts nothing, says so in one line
    and becomes the command (same process, its exit status)."""
    _, out = box.exec_run(
        [
            "sh",
            "-c",
            "mkdir -p /off && lazydisk mount /off -- sh -c"
            " 'grep -c \" /off \" /proc/mounts; echo $$; exit 5' & echo $!; wait $!; echo exit=$?",
        ],
        environment={"LAZYDISK": "off"},
    )
    lines = out.decode().splitlines()
    said = [line for line in lines if line.startswith("lazydisk: ")]
    assert said == ["lazydisk: LAZYDISK=off: /off is not mounted; its writes survive a power loss"]
    pid, mounts, same_pid, status = [line for line in lines if line not in said]
    assert (mounts, same_pid, status) == ("0", pid, "exit=5"), lines


def test_a_full_backing_disk_fails_the_fsync_not_the_write(box: Container) -> None:
    """Over a 64 KiB backing disk, 200 KiB of writes land in memory; the fsync says ENOSPC,
    and the next fsync, with nothing new to write, ENOSPC again (the data is kept, not
    dropped); the layer keeps serving."""
    script = textwrap.dedent(
        """
        import errno, os
        fd = os.open("/full/m/f", os.O_CREAT | os.O_WRONLY, 0o644)
        assert os.write(fd, b"x" * 200_000) == 200_000
        for attempt in (1, 2):
            try:
                os.fsync(fd)
            except OSError as e:
                assert e.errno == errno.ENOSPC, e
            else:
                raise AssertionError(f"fsync {attempt} succeeded on a full disk")
        os.ftruncate(fd, 1000)
        os.fsync(fd)
        assert os.path.getsize("/full/b/f") == 1000
        print("ok")
        """
    )
    code, out = box.exec_run(
        [
            "sh",
            "-c",
            "mkdir -p /full/b /full/m && mount -t tmpfs -o size=64k tmpfs /full/b"
            " && (lazydisk mount --backing /full/b /full/m 2>/full/log &)"
            " && while ! grep -q ' /full/m fuse' /proc/mounts; do sleep 0.05; done"
            f" && python3 -c '{script}'; status=$?; umount /full/m; sleep 0.3; umount /full/b;"
            " cat /full/log; exit $status",
        ]
    )
    text = out.decode()
    assert code == 0, text
    assert "ok" in text.splitlines(), text
    assert "writeback of inode" in text and "No space left on device" in text, text
