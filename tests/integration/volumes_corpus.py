"""A small volume tree holding every case a faithful backup must keep, and an entry-by-entry comparison.

Built as root straight into a volume's directory on the host (the private engine
is local). ``snapshot`` records, per entry: type, mode (with setuid, setgid,
sticky), numeric owner, mtime in ns, xattrs (POSIX ACLs are the
system.posix_acl_* xattrs), link count, device numbers, size, content hash,
symlink target and the data/hole map of regular files.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess

SPARSE_SIZE = 64 << 20
MTIME_NS = 1_600_000_000_123_456_789


def build(root: str) -> None:
    """Fill the (empty) directory ``root``."""
    j = lambda *p: os.path.join(root, *p)  # noqa: E731
    os.makedirs(j("dir/sub/deeper"))
    os.makedirs(j("empty"))
    with open(j("dir/plain.txt"), "w") as f:
        f.write("hello\n" * 1000)
    # numeric owners with no passwd entry
    with open(j("owned"), "w") as f:
        f.write("owned\n")
    os.chown(j("owned"), 12345, 54321)
    # special mode bits
    with open(j("setuid"), "w") as f:
        f.write("#!/bin/sh\n")
    os.chmod(j("setuid"), 0o4755)
    os.makedirs(j("setgid-dir"))
    os.chmod(j("setgid-dir"), 0o2775)
    os.makedirs(j("sticky"))
    os.chmod(j("sticky"), 0o1777)
    with open(j("no-perms"), "w") as f:
        f.write("x")
    os.chmod(j("no-perms"), 0)
    # xattrs (user and trusted namespaces, binary value) and POSIX ACLs (access and default)
    with open(j("xattr"), "w") as f:
        f.write("xattr\n")
    os.setxattr(j("xattr"), "user.dynvol", b"\x00\xffbinary")
    os.setxattr(j("xattr"), "trusted.dynvol", b"root-only")
    with open(j("acl"), "w") as f:
        f.write("acl\n")
    subprocess.run(["setfacl", "-m", "u:4242:r-x,g:4343:rw-", j("acl")], check=True)
    subprocess.run(["setfacl", "-d", "-m", "u:4242:rwx", j("dir")], check=True)
    # hard links (3 names for one inode) and symlinks: relative, absolute, dangling
    with open(j("hard1"), "w") as f:
        f.write("linked\n")
    os.link(j("hard1"), j("hard2"))
    os.link(j("hard1"), j("dir/hard3"))
    os.symlink("dir/plain.txt", j("rel-link"))
    os.symlink("/etc/hostname", j("abs-link"))
    os.symlink("does/not/exist", j("dangling"))
    # sparse: data at a few offsets, holes everywhere else, a hole at the end
    with open(j("sparse"), "wb") as f:
        for off in (0, 8 << 20, 40 << 20):
            f.seek(off)
            f.write(os.urandom(4096))
        f.truncate(SPARSE_SIZE)
    # FIFO, device nodes, a non-UTF-8 name and a name with a newline
    os.mkfifo(j("fifo"))
    os.mknod(j("null-dev"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(j("blk-dev"), 0o660 | stat.S_IFBLK, os.makedev(7, 200))
    with open(os.path.join(os.fsencode(root), b"bad-\xff\xfe-name"), "w") as f:
        f.write("latin1\n")
    with open(j("new\nline"), "w") as f:
        f.write("newline\n")
    # nanosecond mtimes, set last (deepest first so parents keep theirs)
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root), topdown=False):
        for n in filenames + dirnames:
            os.utime(os.path.join(dirpath, n), ns=(MTIME_NS, MTIME_NS + 7), follow_symlinks=False)
    # the volume root itself: owner, mode, xattr, ACL, mtime
    os.chown(root, 1000, 2000)
    os.chmod(root, 0o2770)
    os.setxattr(root, "user.root-xattr", b"top")
    subprocess.run(["setfacl", "-m", "u:777:rwx", root], check=True)
    os.utime(root, ns=(MTIME_NS, MTIME_NS + 99))


def _holes(path: bytes) -> list[tuple[int, int]]:
    fd = os.open(path, os.O_RDONLY)
    try:
        out, pos, size = [], 0, os.fstat(fd).st_size
        while pos < size:
            try:
                data = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                break
            hole = os.lseek(fd, data, os.SEEK_HOLE)
            out.append((data, hole))
            pos = hole
        return out
    finally:
        os.close(fd)


def snapshot(root: str) -> dict:
    """Entry path (bytes, relative; b'.' is the root) -> what must survive a round trip."""
    broot = os.fsencode(root)
    out = {}
    inode_names: dict[int, list[bytes]] = {}
    for dirpath, dirnames, filenames in os.walk(broot):
        names = [(dirpath, n) for n in dirnames + filenames]
        if dirpath == broot:
            names.append((broot, None))
        for d, n in names:
            p = d if n is None else os.path.join(d, n)
            rel = b"." if n is None else os.path.relpath(p, broot)
            st = os.lstat(p)
            e = {"type": stat.S_IFMT(st.st_mode), "mode": oct(stat.S_IMODE(st.st_mode)), "uid": st.st_uid,
                 "gid": st.st_gid, "xattrs": {k: os.getxattr(p, k, follow_symlinks=False)
                                              for k in sorted(os.listxattr(p, follow_symlinks=False))}}
            if not stat.S_ISLNK(st.st_mode):
                e["mtime_ns"] = st.st_mtime_ns
            if stat.S_ISREG(st.st_mode):
                e["nlink"] = st.st_nlink
                e["size"] = st.st_size
                with open(p, "rb") as f:
                    e["sha256"] = hashlib.file_digest(f, "sha256").hexdigest()
                e["data_map"] = _holes(p)
                inode_names.setdefault(st.st_ino, []).append(rel)
            elif stat.S_ISLNK(st.st_mode):
                e["target"] = os.readlink(p)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                e["rdev"] = (os.major(st.st_rdev), os.minor(st.st_rdev))
            out[rel] = e
    # which names share an inode (hard link groups), independent of inode numbers
    groups = sorted(sorted(v) for v in inode_names.values() if len(v) > 1)
    out[b"<hardlink-groups>"] = groups
    return out


def diff(a: dict, b: dict) -> list[str]:
    """Human-readable differences between two snapshots (empty when faithful)."""
    out = []
    for k in sorted(set(a) | set(b)):
        if k not in a or k not in b:
            out.append(f"{k!r}: only in {'restored' if k in b else 'original'}")
        elif a[k] != b[k]:
            if isinstance(a[k], dict):
                for f in sorted(set(a[k]) | set(b[k])):
                    if a[k].get(f) != b[k].get(f):
                        out.append(f"{k!r} {f}: {a[k].get(f)!r} != {b[k].get(f)!r}")
            else:
                out.append(f"{k!r}: {a[k]!r} != {b[k]!r}")
    return out
