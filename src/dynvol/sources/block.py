"""Block devices (type=block) and disk images (type=image), mounted with fsopen/fsconfig/fsmount.

The filesystem goes straight from the host's device into the container: it
never appears in the host's mount table, and no device node is created in the
container. An image gets its own loop device with LO_FLAGS_AUTOCLEAR, so the
kernel releases it when the filesystem's last mount goes away: on detach, when
the container dies, or right away if the attach fails.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import stat
import subprocess

from dynvol.errors import Conflict, DynvolError, KernelError, NotFound, Unsupported, UsageError
from dynvol.linux import blkid, loop, mountinfo
from dynvol.sources import Source, mount_attrs
from dynvol.sources import filesystem as fs
from dynvol.spec import MountSpec


def detect_fstype(path: str, *, what: str) -> str:
    """The filesystem type blkid finds on ``path`` (a device or an image file)."""
    try:
        found = blkid.probe(path)
    except blkid.Ambivalent:
        raise UsageError(f"cannot attach {what}: blkid finds more than one signature on it",
                         hint="give fstype= to say which filesystem to mount") from None
    except blkid.Unavailable:
        found = _blkid_program(path, what=what)
    except KernelError as e:
        raise DynvolError(f"cannot attach {what}: probing it failed: {e.message}") from e
    if found.get("TYPE"):
        if found.get("USAGE", "filesystem") not in ("filesystem", ""):
            raise UsageError(f"cannot attach {what}: it holds {found['TYPE']} ({found['USAGE']}), "
                             "not a filesystem")
        return found["TYPE"]
    if found.get("PTTYPE"):
        raise UsageError(f"cannot attach {what}: it holds a {found['PTTYPE']} partition table, not a filesystem",
                         hint="attach one of its partitions (for an image file: `losetup --find --show "
                              "--partscan FILE`, then /dev/loopNp1)")
    raise UsageError(f"cannot attach {what}: no filesystem found on it (blkid sees no known signature)",
                     hint="is it formatted, and not corrupt? give fstype= to try a type anyway")


def _blkid_program(path: str, *, what: str) -> dict[str, str]:
    """`blkid -p` as a program, for hosts without libblkid's shared library."""
    exe = shutil.which("blkid") or next((p for p in ("/usr/sbin/blkid", "/sbin/blkid")
                                         if os.path.exists(p)), None)
    if exe is None:
        raise Unsupported(f"cannot attach {what}: blkid is not installed, so the filesystem type is unknown",
                          hint="install util-linux (blkid), or give fstype= in --mount")
    # -p: probe the device itself, never blkid's cache
    r = subprocess.run([exe, "-p", "-o", "export", path], capture_output=True, text=True)
    if r.returncode not in (0, 2):
        if "ambivalent" in r.stderr:
            raise UsageError(f"cannot attach {what}: blkid finds more than one signature on it",
                             hint="give fstype= to say which filesystem to mount")
        raise DynvolError(f"cannot attach {what}: blkid failed: {r.stderr.strip() or r.returncode}")
    return dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)


def _in_use_error(what: str, dev: str, rw: list[mountinfo.DeviceMount]) -> DynvolError:
    first = rw[0]
    where = (f"on the host at {first.entry.mountpoint}" if first.host_ns else
             f"at {first.entry.mountpoint} in the mount namespace of pid {first.pid} ({first.comm})")
    more = f" (and {len(rw) - 1} more)" if len(rw) > 1 else ""
    return Conflict(
        f"cannot attach {what}: {dev} is already mounted read-write {where}{more}; the container would "
        "share that live filesystem (your fstype= and options= would not apply), and any writer that "
        "does not go through this kernel's instance would corrupt it",
        hint="unmount it there first, or use --force to share it anyway")


@dataclasses.dataclass
class FilesystemSource(Source):
    """A filesystem on a block device, or on an image file through a loop device."""

    device: str = ""  # the block device; for an image, set when the loop device exists
    fstype: str = ""
    image: bool = False
    shared_ro: bool | None = None  # set when the device is mounted already: is that instance read-only?

    @property
    def what(self) -> str:
        return self.spec.source or self.device

    def _params(self, source: str | None) -> list[tuple[str, str | None]]:
        params: list[tuple[str, str | None]] = [("source", source)] if source else []
        # The filesystem itself read-only, so no writes reach the device. A mounted instance
        # is shared as it is (asking to change its read-only state is EBUSY); the mount
        # itself is read-only anyway when ro is asked.
        if self.spec.readonly if self.shared_ro is None else self.shared_ro:
            params.append(("ro", None))
        return params

    def check(self, *, force: bool = False) -> None:
        devs = loop.devices_of(self.host_path) if self.image else [self.device]
        for dev in devs:
            try:
                rdev = os.stat(dev).st_rdev
            except OSError:
                continue
            mounts = mountinfo.mounts_of_device((os.major(rdev), os.minor(rdev)))
            rw = [m for m in mounts if m.writable]
            if rw and not force:
                shown = f"{self.host_path} (through {dev})" if self.image else dev
                raise _in_use_error(self.what, shown, rw)
            if mounts and not rw and not self.spec.readonly:
                shown = f"{self.host_path} (through {dev})" if self.image else dev
                m = mounts[0]
                where = "on the host" if m.host_ns else f"in the mount namespace of pid {m.pid} ({m.comm})"
                raise Conflict(f"cannot attach {self.what}: {shown} is mounted read-only {where} at "
                               f"{m.entry.mountpoint}, and the kernel would share that read-only instance",
                               hint="attach it with ro, or unmount it there first")
            if mounts:
                self.extra["shared"] = True  # the kernel reuses the mounted instance
                self.shared_ro = not rw
            if mounts and self.image:
                # Mount the loop device that is already mounted, so the kernel reuses that
                # filesystem instance. A second loop device would make a second instance
                # of the same file, and two instances writing one image corrupt it.
                self.device, self.image = dev, False
                self.extra.update(loop=dev, shared=True)
                return

    def make_tree(self, engine) -> int:
        lfd = None
        if self.image:
            self.device, lfd = loop.attach_file(self.host_path, readonly=self.spec.readonly,
                                                step=f"set up a loop device for {self.host_path}")
            self.extra["loop"] = self.device
        try:
            return fs.new_mount(self.fstype, self._params(self.device), self.spec.fs_options,
                                attrs=mount_attrs(self.spec), what=self.what,
                                hint=f"is it really {self.fstype}? `blkid -p {self.host_path}` "
                                     "shows what it holds; a corrupt filesystem needs fsck first")
        finally:
            if lfd is not None:
                os.close(lfd)  # the mounted filesystem now holds the loop device; autoclear does the rest


def _plan(spec: MountSpec, path: str, device: str, *, image: bool) -> FilesystemSource:
    what = spec.source or path
    fstype = spec.fstype or detect_fstype(path, what=what)
    src = FilesystemSource(spec, path, "dir", device=device, fstype=fstype, image=image)
    fs.check_options(fstype, [], spec.fs_options, what=what)  # also loads the fstype's module
    if fstype in fs.nodev_types():
        raise UsageError(f"cannot attach {what}: {fstype} does not live on a block device",
                         hint="use type=tmpfs for tmpfs; block and image take disk filesystems such as ext4")
    src.extra["fstype"] = fstype
    return src


def _stat(path: str, what: str) -> os.stat_result:
    try:
        return os.stat(path)
    except FileNotFoundError:
        raise NotFound(f"{what} does not exist: {path}") from None
    except OSError as e:
        raise DynvolError(f"cannot read {what} {path}: {e.strerror}") from e


def plan_block(spec: MountSpec, engine) -> Source:
    path = spec.source
    st = _stat(path, "block device")
    if not stat.S_ISBLK(st.st_mode):
        raise UsageError(f"cannot attach {path}: not a block device",
                         hint="for a disk image file use type=image, or write it as ./disk.img")
    if not spec.readonly and _device_readonly(st.st_rdev):
        raise UsageError(f"cannot attach {path}: the device is read-only", hint="attach it with ro")
    return _plan(spec, path, path, image=False)


def _device_readonly(rdev: int) -> bool:
    try:
        with open(f"/sys/dev/block/{os.major(rdev)}:{os.minor(rdev)}/ro") as f:
            return f.read().strip() == "1"
    except OSError:
        return False


def plan_image(spec: MountSpec, engine) -> Source:
    path = os.path.abspath(spec.source)
    st = _stat(path, "image file")
    if stat.S_ISBLK(st.st_mode):
        return plan_block(dataclasses.replace(spec, type="block", source=path), engine)
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"cannot attach {path}: an image must be a regular file")
    if not spec.readonly and not os.access(path, os.W_OK):
        raise UsageError(f"cannot attach {path}: the image file is not writable", hint="attach it with ro")
    return _plan(dataclasses.replace(spec, source=path), path, "", image=True)
