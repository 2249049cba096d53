#!/usr/bin/python3
"""lazydisk: a FUSE filesystem that behaves like a kernel's page cache over a real disk.

Mounted over a data directory (by default over the directory itself: the bytes stay in it, hidden
under the mount, reached through a descriptor opened before mounting), it keeps every write in
its own memory and writes it to the backing file only when a real page cache would make it
durable:

* ``fsync``/``fdatasync``, a file opened ``O_SYNC``/``O_DSYNC``, ``lazydisk sync``: at once
  (written back, then ``fsync`` on the backing file);
* background writeback: a file whose data has been dirty for ``--dirty-expire`` seconds (Linux's
  ``dirty_expire_centisecs``, 30 s) is written back at the next ``--writeback-interval`` tick
  (``dirty_writeback_centisecs``, 5 s), and the oldest files first whenever the dirty bytes pass
  ``--dirty-background-bytes`` (``dirty_background_ratio``: 10 % of the memory available);
* a graceful stop (SIGTERM/SIGINT/SIGHUP, an unmount, the end of the command it runs): everything;
* a SIGKILL (the host's power loss: the layer dies with its container): nothing more. What was
  not written back is lost, as a page cache's content is; nobody has to tell the layer.

A close() is not a flush. ``sync(2)``/``syncfs(2)`` cannot be seen: Linux sends FUSE_SYNCFS only
to virtiofs, so ``lazydisk sync MOUNTPOINT`` is the way to say "sync" to it (a Unix socket,
/run/lazydisk/MOUNTPOINT.sock, root's only).

Metadata (create, mkdir, rename, unlink, rmdir, link, symlink, truncate, chmod, chown, utimes,
xattrs) is applied to the backing directory at once: durable as if every metadata change were
committed immediately (ext4 commits its journal every 5 s; this rule never loses a name or a
size change a real disk might lose). Data is what stays lazy: a file's new bytes, and the size a
write gives it, reach the backing file only by the rules above. One exception, ext4's
``auto_da_alloc``: a rename over an existing file first writes the renamed file's data back, so
the write-then-rename-over idiom never leaves an empty file.

Extended attributes are refused (EOPNOTSUPP, as a filesystem without them) unless ``--xattrs``
is given: with them, the kernel asks for ``security.capability`` before every write, which
doubles a write's cost; mysql, redis and carbon use none. ``O_DIRECT`` is accepted (the
kernel's page cache is bypassed) and its writes are held like any other until an fsync: they
sit in the disk's volatile write cache, which a power loss loses too (MariaDB's redo log and
data files are O_DIRECT by default: ``innodb_flush_log_at_trx_commit=2`` must be able to lose
what it did not fsync).

Usage::

    lazydisk mount [--dirty-expire 30] [--backing DIR] MOUNTPOINT [-- COMMAND ...]
    lazydisk sync MOUNTPOINT
    lazydisk status MOUNTPOINT

With a COMMAND, the command runs once the mount is up; SIGTERM/SIGINT/SIGHUP are passed to it,
and when it exits the layer writes everything back, unmounts and exits with its status (as PID 1
it also reaps orphans). Runs as root; the mount is ``allow_other,default_permissions``. With
``LAZYDISK=off`` in the environment, ``mount`` mounts nothing and runs (execs) the COMMAND on
the plain directory.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import errno
import json
import os
import resource
import signal
import stat
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

PAGE = 4096
ROOT_INODE = 1  # pyfuse3.ROOT_INODE; the module is imported only where a mount needs it
CONTROL_DIR = "/run/lazydisk"
AT_EMPTY_PATH = 0x1000
CAP_SYS_ADMIN = 21
# Attributes and names change only through this mount: the kernel may keep them a while.
ATTR_TIMEOUT = 1.0

_libc = ctypes.CDLL(None, use_errno=True)

T = TypeVar("T")


def say(message: str) -> None:
    print(f"lazydisk: {message}", file=sys.stderr, flush=True)


def proc(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


class Inode:
    """One backing file or directory the kernel knows (or whose dirty data we still hold)."""

    __slots__ = (
        "busy",
        "dirtied_when",
        "error",
        "fd",
        "io",
        "key",
        "lookups",
        "mtime_ns",
        "nodeid",
        "opens",
        "pages",
        "size",
    )

    def __init__(self, nodeid: int, key: tuple[int, int], fd: int) -> None:
        self.nodeid = nodeid
        self.key = key
        self.fd = fd  # O_PATH: names the inode whatever it is renamed to
        self.lookups = 0
        self.opens = 0
        self.busy = 0  # an fsync of ``io`` runs in a thread
        self.io = -1  # read/write descriptor, open while the file is open or dirty
        self.pages: dict[int, bytearray] = {}  # page number -> its dirty bytes
        self.size: int | None = None  # the size readers see, while it may differ from backing
        self.mtime_ns: int | None = None
        self.dirtied_when: float | None = None
        self.error = 0  # errno of a failed background writeback, given to the next fsync


class Handle:
    __slots__ = ("datasync", "direct", "inode", "sync")

    def __init__(self, inode: Inode, flags: int) -> None:
        self.inode = inode
        self.datasync = bool(flags & os.O_DSYNC)  # O_SYNC includes the O_DSYNC bit
        self.sync = (flags & os.O_SYNC) == os.O_SYNC
        self.direct = bool(flags & os.O_DIRECT)


def fuse_errors(handler: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """An OSError of the backing filesystem is the caller's error (pyfuse3 ends its main loop
    on any exception that is not a FUSEError)."""
    import functools

    import pyfuse3

    @functools.wraps(handler)
    async def wrapped(*args: Any, **kwargs: Any) -> T:
        try:
            return await handler(*args, **kwargs)
        except OSError as e:
            raise pyfuse3.FUSEError(e.errno or errno.EIO) from None

    return wrapped


def make_operations(pyfuse3: Any, trio: Any) -> type:
    """The Operations class (built here so that ``sync``/``status`` need no pyfuse3)."""

    class LazyDisk(pyfuse3.Operations):  # type: ignore[misc]
        supports_dot_lookup = False
        enable_writeback_cache = False  # the kernel passes every write on: they land here

        def __init__(
            self,
            root_fd: int,
            expire: float,
            background_bytes: int,
            xattrs: bool,
            inline_fsync_below: float,
        ) -> None:
            super().__init__()
            st = os.fstat(root_fd)
            root = Inode(ROOT_INODE, (st.st_dev, st.st_ino), root_fd)
            root.lookups = 1
            self.by_node: dict[int, Inode] = {ROOT_INODE: root}
            self.by_key: dict[tuple[int, int], Inode] = {root.key: root}
            self.next_node = ROOT_INODE + 1
            self.handles: dict[int, Handle] = {}
            self.dirs: dict[int, tuple[Inode, list[bytes] | None]] = {}
            self.next_fh = 1
            self.dirty: dict[Inode, None] = {}  # oldest dirtied first
            self.dirty_bytes = 0
            self.expire = expire
            self.background_bytes = background_bytes
            self.kick = trio.Event()
            self.xattrs = xattrs
            self.fsync_seconds = 0.0  # a moving average of the backing disk's fsync time
            self.inline_fsync_below = inline_fsync_below

        # --- inodes -------------------------------------------------------------------------

        def node(self, nodeid: int) -> Inode:
            try:
                return self.by_node[nodeid]
            except KeyError:
                raise pyfuse3.FUSEError(errno.ENOENT) from None

        def remember(self, fd: int) -> Inode:
            """The inode an O_PATH ``fd`` names (the known one if any: ``fd`` is then closed)."""
            st = os.fstat(fd)
            key = (st.st_dev, st.st_ino)
            known = self.by_key.get(key)
            if known is not None:
                os.close(fd)
                return known
            inode = Inode(self.next_node, key, fd)
            self.next_node += 1
            self.by_node[inode.nodeid] = inode
            self.by_key[key] = inode
            return inode

        def child(self, parent: Inode, name: bytes) -> Inode:
            return self.remember(os.open(name, os.O_PATH | os.O_NOFOLLOW, dir_fd=parent.fd))

        def maybe_drop(self, inode: Inode) -> None:
            if inode.opens or inode.busy or inode.nodeid == ROOT_INODE:
                return
            if inode.pages:
                if inode.lookups or os.fstat(inode.fd).st_nlink:
                    return  # its data still has to reach the disk
                self.discard(inode)  # deleted and forgotten: nobody can read it again
            if inode.io >= 0:
                os.close(inode.io)
                inode.io = -1
            if inode.lookups:
                return
            del self.by_node[inode.nodeid]
            del self.by_key[inode.key]
            os.close(inode.fd)

        def attr(self, inode: Inode) -> Any:
            st = os.fstat(inode.fd)
            entry = pyfuse3.EntryAttributes()
            entry.st_ino = inode.nodeid
            entry.generation = 0
            entry.entry_timeout = ATTR_TIMEOUT
            entry.attr_timeout = ATTR_TIMEOUT
            entry.st_mode = st.st_mode
            entry.st_nlink = st.st_nlink
            entry.st_uid = st.st_uid
            entry.st_gid = st.st_gid
            entry.st_rdev = st.st_rdev
            entry.st_size = st.st_size if inode.size is None else inode.size
            entry.st_blksize = st.st_blksize
            entry.st_blocks = max(st.st_blocks, (entry.st_size + 511) // 512)
            entry.st_atime_ns = st.st_atime_ns
            entry.st_mtime_ns = st.st_mtime_ns if inode.mtime_ns is None else inode.mtime_ns
            entry.st_ctime_ns = st.st_ctime_ns
            return entry

        def owned(self, parent: Inode, name: bytes, ctx: Any) -> Inode:
            """Give a new entry, made by us as root, its caller's owner (and the group a
            set-group-ID directory gives), and count the kernel's reference to it."""
            gid = -1 if os.fstat(parent.fd).st_mode & stat.S_ISGID else ctx.gid
            os.chown(name, ctx.uid, gid, dir_fd=parent.fd, follow_symlinks=False)
            inode = self.child(parent, name)
            inode.lookups += 1
            return inode

        # --- data ---------------------------------------------------------------------------

        def open_io(self, inode: Inode, writable: bool) -> None:
            if inode.io >= 0:
                return
            try:
                inode.io = os.open(proc(inode.fd), os.O_RDWR | os.O_CLOEXEC)
            except OSError as e:
                if writable or e.errno not in (errno.EACCES, errno.EROFS, errno.EPERM):
                    raise
                inode.io = os.open(proc(inode.fd), os.O_RDONLY | os.O_CLOEXEC)

        def logical_size(self, inode: Inode) -> int:
            if inode.size is None:
                inode.size = os.fstat(inode.io).st_size
            return inode.size

        def write_back(self, inode: Inode) -> None:
            """Write ``inode``'s dirty pages to the backing file (no fsync: the host's own page
            cache holds them now, which a power loss of this host does not lose)."""
            if not inode.pages:
                return
            size = self.logical_size(inode)
            numbers = sorted(inode.pages)
            try:
                run: list[bytes | bytearray] = []
                start = numbers[0]
                for i, number in enumerate(numbers):
                    page = inode.pages[number]
                    end = (number + 1) * PAGE
                    run.append(page if end <= size else page[: max(0, size - number * PAGE)])
                    last = i + 1 == len(numbers)
                    if last or numbers[i + 1] != number + 1 or len(run) >= 256:
                        if os.pwritev(inode.io, run, start * PAGE) < sum(map(len, run)):
                            # A regular file takes all of it unless its disk is full.
                            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                        run = []
                        if not last:
                            start = numbers[i + 1]
            except OSError as e:
                inode.error = e.errno or errno.EIO
                say(f"writeback of inode {inode.key[1]} failed: {e.strerror}; kept in memory")
                raise
            if inode.mtime_ns is not None:
                os.utime(inode.io, ns=(os.fstat(inode.io).st_atime_ns, inode.mtime_ns))
            self.discard(inode)

        async def make_durable(self, inode: Inode, datasync: bool) -> None:
            """fsync: write back, then fsync the backing file.

            While the backing disk's fsyncs are quick, in the event loop (the other requests
            wait less than a thread hand-off would cost); once one is slow, in a thread, so
            that a disk that takes its time holds up only its own caller."""
            if inode.io < 0:
                self.open_io(inode, writable=False)
            try:
                self.write_back(inode)
            except OSError:
                inode.error = 0  # said to this caller, now
                raise
            inode.busy += 1
            started = time.monotonic()
            try:
                fsync = os.fdatasync if datasync else os.fsync
                if self.fsync_seconds < self.inline_fsync_below:
                    fsync(inode.io)
                else:
                    await trio.to_thread.run_sync(fsync, inode.io)
            finally:
                inode.busy -= 1
                self.fsync_seconds = 0.8 * self.fsync_seconds + 0.2 * (time.monotonic() - started)
                self.maybe_drop(inode)
            if inode.error:
                failed, inode.error = inode.error, 0
                raise OSError(failed, os.strerror(failed))

        def discard(self, inode: Inode) -> None:
            self.dirty_bytes -= len(inode.pages) * PAGE
            inode.pages.clear()
            inode.size = None
            inode.mtime_ns = None
            inode.dirtied_when = None
            self.dirty.pop(inode, None)

        def dirty_page(self, inode: Inode, number: int, whole: bool) -> bytearray:
            page = inode.pages.get(number)
            if page is None:
                page = bytearray(PAGE)
                if not whole:
                    old = os.pread(inode.io, PAGE, number * PAGE)
                    page[: len(old)] = old
                inode.pages[number] = page
                self.dirty_bytes += PAGE
            return page

        def truncate(self, inode: Inode, size: int) -> None:
            """A size change is metadata: the backing file takes it at once; dirty pages past
            it go, and the page it cuts keeps zeros after it (as if never written)."""
            if inode.pages:
                for number in [n for n in inode.pages if n * PAGE >= size]:
                    del inode.pages[number]
                    self.dirty_bytes -= PAGE
                cut = inode.pages.get(size // PAGE)
                if cut is not None:
                    cut[size % PAGE :] = bytes(PAGE - size % PAGE)
                inode.size = size
                if not inode.pages:
                    inode.size = None
                    inode.dirtied_when = None
                    self.dirty.pop(inode, None)
            if inode.io >= 0:
                os.ftruncate(inode.io, size)
            else:
                os.truncate(proc(inode.fd), size)

        # --- FUSE: names --------------------------------------------------------------------

        @fuse_errors
        async def lookup(self, parent_inode: int, name: bytes, ctx: Any = None) -> Any:
            inode = self.child(self.node(parent_inode), name)
            inode.lookups += 1
            return self.attr(inode)

        async def forget(self, inode_list: list[tuple[int, int]]) -> None:
            for nodeid, nlookup in inode_list:
                inode = self.by_node.get(nodeid)
                if inode is None or nodeid == ROOT_INODE:
                    continue
                inode.lookups = max(0, inode.lookups - nlookup)
                with contextlib.suppress(OSError):
                    self.maybe_drop(inode)

        @fuse_errors
        async def getattr(self, inode: int, ctx: Any = None) -> Any:
            return self.attr(self.node(inode))

        @fuse_errors
        async def setattr(self, nodeid: int, attr: Any, fields: Any, fh: Any, ctx: Any) -> Any:
            inode = self.node(nodeid)
            link = stat.S_ISLNK(os.fstat(inode.fd).st_mode)
            if fields.update_size:
                self.truncate(inode, attr.st_size)
            if fields.update_mode and not link:
                os.chmod(proc(inode.fd), stat.S_IMODE(attr.st_mode))
            if fields.update_uid or fields.update_gid:
                uid = attr.st_uid if fields.update_uid else -1
                gid = attr.st_gid if fields.update_gid else -1
                if _libc.fchownat(inode.fd, b"", uid, gid, AT_EMPTY_PATH) != 0:
                    failed = ctypes.get_errno()
                    raise OSError(failed, os.strerror(failed))
            if (fields.update_atime or fields.update_mtime) and not link:
                # An explicit time outlives the data's own: write the data back first.
                self.write_back(inode)
                old = os.fstat(inode.fd)
                atime = attr.st_atime_ns if fields.update_atime else old.st_atime_ns
                mtime = attr.st_mtime_ns if fields.update_mtime else old.st_mtime_ns
                os.utime(proc(inode.fd), ns=(atime, mtime))
            return self.attr(inode)

        @fuse_errors
        async def readlink(self, inode: int, ctx: Any) -> bytes:
            return os.fsencode(os.readlink("", dir_fd=self.node(inode).fd))

        @fuse_errors
        async def mknod(self, parent: int, name: bytes, mode: int, rdev: int, ctx: Any) -> Any:
            p = self.node(parent)
            os.mknod(name, mode & ~ctx.umask, rdev, dir_fd=p.fd)
            return self.attr(self.owned(p, name, ctx))

        @fuse_errors
        async def mkdir(self, parent: int, name: bytes, mode: int, ctx: Any) -> Any:
            p = self.node(parent)
            os.mkdir(name, mode & ~ctx.umask & 0o7777, dir_fd=p.fd)
            return self.attr(self.owned(p, name, ctx))

        @fuse_errors
        async def symlink(self, parent: int, name: bytes, target: bytes, ctx: Any) -> Any:
            p = self.node(parent)
            os.symlink(target, name, dir_fd=p.fd)
            return self.attr(self.owned(p, name, ctx))

        @fuse_errors
        async def link(self, nodeid: int, new_parent: int, new_name: bytes, ctx: Any) -> Any:
            inode = self.node(nodeid)
            os.link(proc(inode.fd), new_name, dst_dir_fd=self.node(new_parent).fd)
            inode.lookups += 1
            return self.attr(inode)

        @fuse_errors
        async def unlink(self, parent: int, name: bytes, ctx: Any) -> None:
            os.unlink(name, dir_fd=self.node(parent).fd)

        @fuse_errors
        async def rmdir(self, parent: int, name: bytes, ctx: Any) -> None:
            os.rmdir(name, dir_fd=self.node(parent).fd)

        @fuse_errors
        async def rename(
            self, old_parent: int, old: bytes, new_parent: int, new: bytes, flags: int, ctx: Any
        ) -> None:
            src, dst = self.node(old_parent), self.node(new_parent)
            if flags == 0:
                # auto_da_alloc: replacing a file by rename writes the new one's data first.
                with contextlib.suppress(FileNotFoundError):
                    os.stat(new, dir_fd=dst.fd, follow_symlinks=False)
                    st = os.stat(old, dir_fd=src.fd, follow_symlinks=False)
                    moved = self.by_key.get((st.st_dev, st.st_ino))
                    if moved is not None:
                        self.write_back(moved)
                os.rename(old, new, src_dir_fd=src.fd, dst_dir_fd=dst.fd)
                return
            if _libc.renameat2(src.fd, old, dst.fd, new, flags) != 0:
                failed = ctypes.get_errno()
                raise OSError(failed, os.strerror(failed))

        # --- FUSE: files --------------------------------------------------------------------

        def handle(self, inode: Inode, flags: int) -> Any:
            fh = self.next_fh
            self.next_fh += 1
            h = Handle(inode, flags)
            self.handles[fh] = h
            inode.opens += 1
            # O_DIRECT: no kernel page cache for this open (the layer still holds the writes).
            return pyfuse3.FileInfo(fh=fh, direct_io=h.direct, keep_cache=False)

        @fuse_errors
        async def open(self, nodeid: int, flags: int, ctx: Any) -> Any:
            inode = self.node(nodeid)
            self.open_io(inode, writable=(flags & os.O_ACCMODE) != os.O_RDONLY)
            if flags & os.O_TRUNC:  # libfuse asks the kernel for atomic O_TRUNC
                self.truncate(inode, 0)
            return self.handle(inode, flags)

        @fuse_errors
        async def create(self, parent: int, name: bytes, mode: int, flags: int, ctx: Any) -> Any:
            p = self.node(parent)
            made = os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC
            try:
                io = os.open(name, made, mode & ~ctx.umask & 0o7777, dir_fd=p.fd)
                inode = self.owned(p, name, ctx)
            except FileExistsError:
                if flags & os.O_EXCL:
                    raise
                # Made by another request since the kernel's lookup: open what is there.
                inode = self.child(p, name)
                inode.lookups += 1
                io = os.open(proc(inode.fd), os.O_RDWR | os.O_CLOEXEC)
            if inode.io < 0:
                inode.io = io
            else:
                os.close(io)
            if flags & os.O_TRUNC:
                self.truncate(inode, 0)
            return self.handle(inode, flags), self.attr(inode)

        @fuse_errors
        async def read(self, fh: int, off: int, size: int) -> bytes:
            inode = self.handles[fh].inode
            if not inode.pages:
                return os.pread(inode.io, size, off)
            end = min(off + size, self.logical_size(inode))
            if off >= end:
                return b""
            out = bytearray(os.pread(inode.io, end - off, off))
            if len(out) < end - off:
                out.extend(bytes(end - off - len(out)))
            for number in range(off // PAGE, (end - 1) // PAGE + 1):
                page = inode.pages.get(number)
                if page is None:
                    continue
                lo = max(off, number * PAGE)
                hi = min(end, (number + 1) * PAGE)
                out[lo - off : hi - off] = page[lo - number * PAGE : hi - number * PAGE]
            return bytes(out)

        @fuse_errors
        async def write(self, fh: int, off: int, buf: bytes) -> int:
            h = self.handles[fh]
            inode = h.inode
            size = self.logical_size(inode)
            end = off + len(buf)
            view = memoryview(buf)
            for number in range(off // PAGE, (end - 1) // PAGE + 1):
                lo = max(off, number * PAGE)
                hi = min(end, (number + 1) * PAGE)
                # A page wholly overwritten, or past the end of the data, needs no read.
                whole = hi - lo == PAGE or number * PAGE >= size
                page = self.dirty_page(inode, number, whole)
                page[lo - number * PAGE : hi - number * PAGE] = view[lo - off : hi - off]
            inode.size = max(size, end)
            inode.mtime_ns = time.time_ns()
            if inode.dirtied_when is None:
                inode.dirtied_when = time.monotonic()
                self.dirty[inode] = None
            if h.datasync:
                await self.make_durable(inode, datasync=not h.sync)
            if self.dirty_bytes > self.background_bytes:
                self.kick.set()
            return len(buf)

        async def flush(self, fh: int) -> None:
            return None  # close() is not a flush: a page cache keeps the data after it

        @fuse_errors
        async def release(self, fh: int) -> None:
            inode = self.handles.pop(fh).inode
            inode.opens -= 1
            self.maybe_drop(inode)

        @fuse_errors
        async def fsync(self, fh: int, datasync: bool) -> None:
            await self.make_durable(self.handles[fh].inode, datasync)

        # --- FUSE: directories, attributes of the whole ----------------------------------

        @fuse_errors
        async def opendir(self, nodeid: int, ctx: Any) -> int:
            fh = self.next_fh
            self.next_fh += 1
            self.dirs[fh] = (self.node(nodeid), None)
            return fh

        @fuse_errors
        async def readdir(self, fh: int, start_id: int, token: Any) -> None:
            inode, names = self.dirs[fh]
            if names is None or start_id == 0:
                # One listing per open directory: positions stay stable while it is read.
                names = sorted(os.listdir(os.fsencode(proc(inode.fd))))
                self.dirs[fh] = (inode, names)
            for i in range(start_id, len(names)):
                try:
                    entry = self.child(inode, names[i])
                except FileNotFoundError:
                    continue  # removed since the listing
                if not pyfuse3.readdir_reply(token, names[i], self.attr(entry), i + 1):
                    self.maybe_drop(entry)
                    return
                entry.lookups += 1

        async def releasedir(self, fh: int) -> None:
            self.dirs.pop(fh, None)

        @fuse_errors
        async def fsyncdir(self, fh: int, datasync: bool) -> None:
            fd = os.open(proc(self.dirs[fh][0].fd), os.O_RDONLY | os.O_DIRECTORY)
            try:
                await trio.to_thread.run_sync(os.fsync, fd)
            finally:
                os.close(fd)

        @fuse_errors
        async def statfs(self, ctx: Any) -> Any:
            st = os.statvfs(proc(self.by_node[ROOT_INODE].fd))
            out = pyfuse3.StatvfsData()
            for name in ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail"):
                setattr(out, name, getattr(st, name))
            for name in ("f_files", "f_ffree", "f_favail", "f_namemax"):
                setattr(out, name, getattr(st, name))
            return out

        # --- FUSE: extended attributes (only with --xattrs) ---------------------------------

        def xattr_path(self, nodeid: int) -> str:
            if not self.xattrs:
                # ENOSYS: the kernel stops asking (callers get EOPNOTSUPP). Without it, every
                # write costs a second round trip: the kernel reads security.capability first.
                raise pyfuse3.FUSEError(errno.ENOSYS)
            inode = self.node(nodeid)
            if stat.S_ISLNK(os.fstat(inode.fd).st_mode):
                raise pyfuse3.FUSEError(errno.ENOTSUP)
            return proc(inode.fd)

        @fuse_errors
        async def getxattr(self, nodeid: int, name: bytes, ctx: Any) -> bytes:
            return os.getxattr(self.xattr_path(nodeid), name)

        @fuse_errors
        async def setxattr(self, nodeid: int, name: bytes, value: bytes, ctx: Any) -> None:
            os.setxattr(self.xattr_path(nodeid), name, value)

        @fuse_errors
        async def listxattr(self, nodeid: int, ctx: Any) -> list[bytes]:
            return [os.fsencode(n) for n in os.listxattr(self.xattr_path(nodeid))]

        @fuse_errors
        async def removexattr(self, nodeid: int, name: bytes, ctx: Any) -> None:
            os.removexattr(self.xattr_path(nodeid), name)

        # --- the page cache as a whole ------------------------------------------------------

        def status(self) -> dict[str, Any]:
            now = time.monotonic()
            oldest = next(iter(self.dirty), None)
            age = (
                0.0 if oldest is None or oldest.dirtied_when is None else now - oldest.dirtied_when
            )
            return {
                "dirty_bytes": self.dirty_bytes,
                "dirty_files": len(self.dirty),
                "oldest_dirty_seconds": round(age, 3),
                "known_inodes": len(self.by_node),
                "open_files": len(self.handles),
                "rss_bytes": rss_bytes(),
            }

        async def sync_all(self) -> None:
            """What sync(2) would do: every dirty file written back and fsynced."""
            for inode in list(self.dirty):
                if inode in self.dirty:  # not written back (and maybe dropped) meanwhile
                    await self.make_durable(inode, datasync=False)

        async def control_server(self, path: str) -> None:
            """`lazydisk sync|status MOUNTPOINT`: one line in, one line out, on a Unix socket
            only root can reach."""
            listener = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
            try:
                os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                await listener.bind(path)
                os.chmod(path, 0o600)
                listener.listen(8)
            except OSError as e:
                # The layer works without it; only `lazydisk sync|status` cannot reach it.
                say(f"no control socket at {path} ({e.strerror}): `lazydisk sync` will fail")
                return
            async with trio.open_nursery() as nursery:
                while True:
                    conn, _ = await listener.accept()
                    nursery.start_soon(self.answer, conn)

        async def answer(self, conn: Any) -> None:
            stream = trio.SocketStream(conn)
            try:
                command = (await stream.receive_some(64)).strip()
                if command == b"sync":
                    try:
                        await self.sync_all()
                        reply = b"ok"
                    except OSError as e:
                        reply = f"error: {e.strerror}".encode()
                elif command == b"status":
                    reply = json.dumps(self.status(), sort_keys=True).encode()
                else:
                    reply = b"error: unknown command " + command[:20]
                await stream.send_all(reply + b"\n")
            except (OSError, trio.BrokenResourceError) as e:
                say(f"control connection lost: {e}")  # the caller went away: not the layer's end
            finally:
                await stream.aclose()

        async def writeback_loop(self, interval: float) -> None:
            """Background writeback: expired files at every tick, the oldest first when the
            dirty bytes pass the background limit (no fsync: Linux's flusher does none)."""
            while True:
                with trio.move_on_after(interval):
                    await self.kick.wait()
                self.kick = trio.Event()
                now = time.monotonic()
                for inode in list(self.dirty):
                    expired = (
                        inode.dirtied_when is not None and now - inode.dirtied_when >= self.expire
                    )
                    if not expired and self.dirty_bytes <= self.background_bytes:
                        break
                    with contextlib.suppress(OSError):  # said, and kept for the next fsync
                        self.write_back(inode)
                    with contextlib.suppress(OSError):
                        self.maybe_drop(inode)

        def write_back_all(self) -> int:
            """At a graceful stop: everything written back and fsynced; returns the bytes."""
            written = self.dirty_bytes
            for inode in list(self.dirty):
                try:
                    self.write_back(inode)
                    os.fsync(inode.io)
                except OSError as e:
                    say(f"at stop, inode {inode.key[1]} could not be written back: {e.strerror}")
            return written

    return LazyDisk


# --- the program --------------------------------------------------------------------------


def rss_bytes() -> int:
    """The layer's resident memory (its dirty pages are most of it under writes)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def default_background_bytes() -> int:
    """Linux's dirty_background_ratio: 10 % of the memory available when the layer starts."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return max(16 << 20, int(line.split()[1]) * 1024 // 10)
    except (OSError, ValueError, IndexError):
        pass
    return 256 << 20


def fuse_problem() -> str | None:
    """Why this container cannot mount FUSE, said with what to give it; None when it can try."""
    try:
        fd = os.open("/dev/fuse", os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return (
            f"/dev/fuse cannot be opened ({e.strerror}): the container needs"
            " `--device /dev/fuse --cap-add SYS_ADMIN` (or run this host with durability: off)"
        )
    os.close(fd)
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            caps = next(int(line.split()[1], 16) for line in f if line.startswith("CapEff:"))
    except (OSError, StopIteration, ValueError):
        return None
    if not caps & (1 << CAP_SYS_ADMIN):
        # Checked first: without it libfuse tries fusermount3, which fails with a line of its own.
        return (
            "mount(2) needs CAP_SYS_ADMIN: the container needs `--cap-add SYS_ADMIN`"
            " (or run this host with durability: off)"
        )
    return None


def mount_main(args: argparse.Namespace) -> int:
    mountpoint = os.path.abspath(args.mountpoint)
    if os.environ.get("LAZYDISK") == "off":
        # One image for both ways: the host's configuration says whether its disk is lazy.
        say(f"LAZYDISK=off: {mountpoint} is not mounted; its writes survive a power loss")
        if args.command:
            os.execvp(args.command[0], args.command)
        return 0

    import pyfuse3
    import trio

    # Resolved before mounting: once mounted, a path through the mount point waits on us.
    args.control = control_path(mountpoint)
    backing = os.path.abspath(args.backing or mountpoint)
    problem = fuse_problem()
    if problem is not None:
        say(f"cannot mount {mountpoint}: {problem}")
        return 2
    try:
        # Opened before the mount hides it when the mount point is the backing directory.
        root_fd = os.open(backing, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        say(f"cannot open the backing directory {backing}: {e.strerror}")
        return 2
    os.umask(0)  # modes come from the callers, their umask already applied
    # One O_PATH descriptor per inode the kernel knows (as libfuse's passthrough_ll keeps).
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ops = make_operations(pyfuse3, trio)(
        root_fd,
        args.dirty_expire,
        args.dirty_background_bytes,
        args.xattrs,
        args.inline_fsync_below,
    )
    options = set(pyfuse3.default_options) | {
        "allow_other",
        "fsname=lazydisk",
        "subtype=lazydisk",
    }
    if args.debug_fuse:
        options.add("debug")
    try:
        pyfuse3.init(ops, mountpoint, options)
    except RuntimeError as e:
        say(
            f"cannot mount {mountpoint} ({e}): under AppArmor the container needs a profile"
            " that allows mount (`--security-opt apparmor=unconfined`); or run this host with"
            " durability: off"
        )
        return 2
    say(
        f"mounted {mountpoint} over {backing} (dirty data written back after"
        f" {args.dirty_expire:g} s, or past {args.dirty_background_bytes} bytes)"
    )
    status = 0
    try:
        status = trio.run(serve, ops, args, pyfuse3, trio)
    finally:
        written = ops.write_back_all()
        pyfuse3.close(unmount=True)
        say(f"wrote back {written} bytes and unmounted {mountpoint}")
    return status


async def serve(ops: Any, args: argparse.Namespace, pyfuse3: Any, trio: Any) -> int:
    """The FUSE loop, background writeback, and the command's life (or signals' without one)."""
    result = {"status": 0}
    async with trio.open_nursery() as nursery:
        nursery.start_soon(ops.writeback_loop, args.writeback_interval)
        nursery.start_soon(ops.control_server, args.control)

        async def fuse_loop() -> None:
            await pyfuse3.main()
            nursery.cancel_scope.cancel()  # unmounted from outside

        nursery.start_soon(fuse_loop)
        if args.command:
            nursery.start_soon(run_command, args.command, result, pyfuse3)
        else:
            nursery.start_soon(stop_on_signal, pyfuse3, trio)
    return result["status"]


async def stop_on_signal(pyfuse3: Any, trio: Any) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        async for _ in signals:
            pyfuse3.terminate()
            return


async def run_command(command: list[str], result: dict[str, int], pyfuse3: Any) -> None:
    """Run the service on the mounted layer; pass it SIGTERM/SIGINT/SIGHUP; stop when it exits. As
    PID 1, also reap the orphans the kernel gives us."""
    import subprocess

    import trio

    # Signals are caught from here on, so none arrives between the fork and the handler.
    stops = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    with trio.open_signal_receiver(*stops, signal.SIGCHLD) as signals:
        child = subprocess.Popen(command)
        reap_all = os.getpid() == 1
        async for signum in signals:
            if signum != signal.SIGCHLD:
                with contextlib.suppress(ProcessLookupError):
                    child.send_signal(signum)
                continue
            while True:
                try:
                    pid, wstatus = os.waitpid(-1 if reap_all else child.pid, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                if pid == child.pid:
                    result["status"] = os.waitstatus_to_exitcode(wstatus) % 256
                    pyfuse3.terminate()
                    return


def control_path(mountpoint: str) -> str:
    """Where the layer mounted at ``mountpoint`` listens: /run/lazydisk/<mountpoint>.sock."""
    return f"{CONTROL_DIR}{os.path.realpath(mountpoint)}.sock"


def control(mountpoint: str, command: str) -> str:
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(control_path(mountpoint))
        conn.sendall(command.encode() + b"\n")
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    return reply.decode().strip() or "error: no answer"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="lazydisk", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    mount = sub.add_parser("mount", help="mount the layer (foreground)")
    mount.add_argument("mountpoint")
    mount.add_argument("--backing", help="where the bytes live (default: under the mount point)")
    mount.add_argument("--dirty-expire", type=float, default=30.0, metavar="SECONDS")
    mount.add_argument("--writeback-interval", type=float, default=5.0, metavar="SECONDS")
    mount.add_argument(
        "--dirty-background-bytes", type=int, default=default_background_bytes(), metavar="N"
    )
    mount.add_argument(
        "--inline-fsync-below",
        type=float,
        default=0.002,
        metavar="SECONDS",
        help="fsync in the event loop while the disk's fsyncs average less than this",
    )
    mount.add_argument(
        "--xattrs", action="store_true", help="pass extended attributes through (slower writes)"
    )
    mount.add_argument("--debug-fuse", action="store_true", help="libfuse's request trace")
    mount.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")
    for name, text in (("sync", "write back and fsync every dirty file"), ("status", "JSON")):
        sub.add_parser(name, help=text).add_argument("mountpoint")
    args = parser.parse_args(argv)
    if args.action == "mount":
        if args.command[:1] == ["--"]:
            args.command = args.command[1:]
        if args.dirty_expire < 0 or args.writeback_interval <= 0:
            parser.error("--dirty-expire must be >= 0 and --writeback-interval > 0")
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.action == "mount":
        return mount_main(args)
    try:
        reply = control(args.mountpoint, args.action)
    except OSError as e:
        say(f"{args.action} {args.mountpoint}: {e.strerror} (is a lazydisk mounted there?)")
        return 1
    if reply.startswith("error:"):
        say(f"{args.action} {args.mountpoint}: {reply}")
        return 1
    if args.action == "status":
        print(reply)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
