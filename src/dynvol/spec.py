"""Mount specs in Docker's syntax: ``-v SRC:DST[:OPTS]`` and ``--mount k=v,...``.

Parsing is pure: it validates everything a spec says on its own (absolute
paths, names, option spelling, conflicts) and raises :class:`UsageError`
with Docker's wording where Docker has one. Whether a source exists is checked
later, by the planner.
"""

from __future__ import annotations

import csv
import functools
import posixpath
import re
from dataclasses import dataclass, field, replace

from dynvol.errors import UsageError

VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
MOUNT_TYPES = ("bind", "volume", "block", "image", "tmpfs")
# A relative -v source (./disk.img, ../x.raw) with one of these suffixes names a disk image;
# any other relative source gets Docker's "use absolute path" refusal.
IMAGE_SUFFIXES = (".img", ".raw", ".iso", ".ext4", ".ext3", ".ext2", ".xfs", ".btrfs", ".squashfs",
                  ".erofs", ".vfat")
FLAG_OPTIONS = ("nosuid", "nodev", "noexec")
TRUE = ("1", "true", "yes", "on", "")
FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class MountSpec:
    """One mount to attach, in Docker's terms."""

    type: str  # "bind" or "volume"
    target: str
    source: str | None = None  # host path (bind) or volume name (volume); None: anonymous volume
    readonly: bool = False
    propagation: str | None = None  # bind-propagation; None: Docker's default (rprivate)
    recursive: bool = True  # bind-recursive
    nocopy: bool = False  # volume-nocopy
    volume_driver: str | None = None
    volume_labels: tuple[tuple[str, str], ...] = ()
    volume_options: tuple[tuple[str, str], ...] = ()
    fstype: str | None = None  # block/image: filesystem type; None: detect it with blkid
    fs_options: tuple[str, ...] = ()  # options=: mount options handed to the filesystem
    tmpfs_size: int | None = None  # bytes
    tmpfs_mode: int | None = None
    uid: int | None = None  # tmpfs: owner of the root directory
    gid: int | None = None
    nosuid: bool = False
    nodev: bool = False
    noexec: bool = False
    subpath: str | None = None  # volume-subpath, relative to the volume root
    idmap: str | None = None  # None: no idmap; "": the container's user namespace; else "uids=..;gids=.."
    extra: tuple[tuple[str, str], ...] = field(default=())  # accepted, not yet acted on

    def describe(self) -> str:
        src = self.source or "(anonymous)"
        return f"{src}:{self.target}"

    def options(self) -> list[str]:
        """Options as shown by ``ls`` and stored in state, Docker spelling."""
        out = ["ro" if self.readonly else "rw"]
        if self.propagation:
            out.append(self.propagation)
        if not self.recursive:
            out.append("bind-recursive=disabled")
        if self.nocopy:
            out.append("nocopy")
        out.extend(f for f in FLAG_OPTIONS if getattr(self, f))
        if self.fstype:
            out.append(f"fstype={self.fstype}")
        if self.fs_options:
            out.append("options=" + ",".join(self.fs_options))
        if self.tmpfs_size is not None:
            out.append(f"tmpfs-size={format_size(self.tmpfs_size)}")
        if self.tmpfs_mode is not None:
            out.append(f"tmpfs-mode={self.tmpfs_mode:o}")
        for k in ("uid", "gid"):
            if getattr(self, k) is not None:
                out.append(f"{k}={getattr(self, k)}")
        if self.subpath:
            out.append(f"volume-subpath={self.subpath}")
        if self.idmap is not None:
            out.append("idmap" + (f"={self.idmap}" if self.idmap else ""))
        return out


def _target(path: str, spec: str) -> str:
    if not path:
        raise UsageError(f"invalid volume specification: '{spec}': no target path")
    if not path.startswith("/"):
        raise UsageError(f"invalid mount config: mount path must be absolute: '{path}'",
                         hint="write the target as it is inside the container, e.g. /data")
    if "\0" in path:
        raise UsageError(f"invalid mount config: target contains a NUL byte: {path!r}")
    return posixpath.normpath("/" + path.lstrip("/"))


def _source(src: str, spec: str) -> tuple[str, str]:
    """(type, source) for the SRC part of a -v spec."""
    if "\0" in src:
        raise UsageError(f"invalid volume specification: '{spec}': source contains a NUL byte")
    if src.startswith("/"):
        return "bind", posixpath.normpath(src)
    if src.startswith(("./", "../")) and src.lower().endswith(IMAGE_SUFFIXES):
        return "image", src  # made absolute (and checked to be a regular file) by the planner
    if VOLUME_NAME.match(src):
        return "volume", src
    raise bad_volume_name(src)


def bad_volume_name(src: str) -> UsageError:
    """Docker's refusal of a source that is neither an absolute path nor a volume name."""
    return UsageError(
        f'"{src}" includes invalid characters for a local volume name, only '
        f'"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
        f"use absolute path")


def _one_line(parse):
    """Errors name the user's text; keep control characters in it from breaking the one-line message."""
    @functools.wraps(parse)
    def wrapper(spec: str) -> MountSpec:
        try:
            return parse(spec)
        except UsageError as e:
            e.message = e.message.translate(_ESCAPES)
            e.args = (e.message,)
            raise

    return wrapper


_ESCAPES = {c: f"\\x{c:02x}" for c in range(32)}


@_one_line
def parse_volume(spec: str) -> MountSpec:
    """Parse Docker's ``-v`` form: ``[SRC:]DST[:OPTS]``."""
    parts = spec.split(":")
    if len(parts) == 1:
        return MountSpec(type="volume", target=_target(parts[0], spec))
    if len(parts) > 3 or not all(parts[:2]):
        raise UsageError(f"invalid volume specification: '{spec}'",
                         hint="use SRC:DST[:OPTS], e.g. /srv/data:/data:ro")
    kind, source = _source(parts[0], spec)
    target = _target(parts[1], spec)
    opts = parts[2].split(",") if len(parts) == 3 else []
    readonly, propagation, nocopy, extra = False, None, False, []
    flags: dict[str, bool] = {}
    seen_mode = None
    for o in opts:
        if o in ("ro", "rw"):
            if seen_mode and seen_mode != o:
                raise UsageError(f"invalid mode: {parts[2]}: ro and rw conflict")
            seen_mode, readonly = o, o == "ro"
        elif o in PROPAGATIONS:
            if propagation:
                raise UsageError(f"invalid mode: {parts[2]}: more than one propagation mode")
            propagation = o
        elif o == "nocopy":
            nocopy = True
        elif o in FLAG_OPTIONS:
            flags[o] = True
        elif o == "idmap" or o.startswith("idmap="):
            flags["idmap"] = parse_idmap(o[len("idmap="):])
        elif o in ("z", "Z"):
            extra.append(("selinux-relabel", o))
        elif o:
            raise UsageError(f"invalid mode: {o}", hint="known modes: ro, rw, z, Z, nocopy, "
                                                        + ", ".join(PROPAGATIONS + FLAG_OPTIONS))
    if propagation and kind != "bind":
        raise UsageError(f"invalid mode: {parts[2]}: propagation applies to bind mounts only")
    if nocopy and kind != "volume":
        raise UsageError(f"invalid mode: {parts[2]}: nocopy applies to volumes only")
    _check_ro_propagation(readonly, propagation, spec)
    return MountSpec(type=kind, source=source, target=target, readonly=readonly,
                     propagation=propagation, nocopy=nocopy, extra=tuple(extra), **flags)


def _check_ro_propagation(readonly: bool, propagation: str | None, spec: str) -> None:
    # Mounts made later under a shared source propagate into the target, and they are
    # not read-only: "ro" would stop holding for them.
    if readonly and propagation in ("shared", "rshared"):
        raise UsageError(f"invalid mount config '{spec}': bind-propagation={propagation} conflicts "
                         f"with read-only", hint="mounts propagated later would be writable; use "
                                                 "rslave (or slave) for a read-only mount that follows the host")


def _bool(key: str, value: str | None) -> bool:
    v = (value or "").lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    raise UsageError(f"invalid value for {key}: {value}", hint="use true or false")


def _pair(key: str, value: str | None) -> tuple[str, str]:
    if not value:
        raise UsageError(f"invalid field '{key}': needs a value")
    k, sep, v = value.partition("=")
    return (k, v)


SIZE = re.compile(r"^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$", re.IGNORECASE)
FSTYPE = re.compile(r"^[a-z0-9][a-z0-9_.+-]*$")
# --mount keys that only some types take: key -> types
ONLY_FOR = {
    "fstype": ("block", "image"),
    "options": ("block", "image", "tmpfs"),
    "tmpfs-size": ("tmpfs",), "tmpfs-mode": ("tmpfs",), "uid": ("tmpfs",), "gid": ("tmpfs",),
    "volume-subpath": ("volume",),
}


def format_size(n: int) -> str:
    """The shortest exact spelling that :func:`parse_size` reads back: 64m, 1g, 1536k, 100."""
    for unit, mult in (("p", 1024 ** 5), ("t", 1024 ** 4), ("g", 1024 ** 3), ("m", 1024 ** 2), ("k", 1024)):
        if n and n % mult == 0:
            return f"{n // mult}{unit}"
    return str(n)


def parse_size(value: str | None) -> int:
    """Bytes from Docker's RAMInBytes syntax: 64m, 1g, 512k, 1.5GiB, 4096 (binary multiples)."""
    m = SIZE.match((value or "").strip())
    if not m:
        raise UsageError(f"invalid value for tmpfs-size: {value}", hint="bytes, or a number with k, m or g, e.g. 64m")
    unit = "bkmgtp".index((m.group(2) or "b").lower())
    return int(float(m.group(1)) * 1024 ** unit)


def _octal(key: str, value: str | None) -> int:
    try:
        mode = int(value or "", 8)
    except ValueError:
        raise UsageError(f"invalid value for {key}: {value}", hint="an octal mode, e.g. 1777") from None
    if not 0 <= mode <= 0o7777:
        raise UsageError(f"invalid value for {key}: {value}", hint="an octal mode, e.g. 1777")
    return mode


def _id(key: str, value: str | None) -> int:
    if not (value or "").isdigit() or int(value) > 0xFFFFFFFE:
        raise UsageError(f"invalid value for {key}: {value}", hint="a numeric id, e.g. 1000")
    return int(value)


def _subpath(value: str | None) -> str:
    p = value or ""
    if not p or p.startswith("/") or "\0" in p:
        raise UsageError(f"invalid value for volume-subpath: '{p}': must be a relative path within the volume")
    norm = posixpath.normpath(p)
    if norm == ".." or norm.startswith("../"):
        raise UsageError(f"invalid value for volume-subpath: '{p}': it escapes the volume root",
                         hint="give a path below the volume root, without ..")
    return norm


def _fs_options(value: str | None, values: dict) -> tuple[str, ...]:
    """options=ro,noatime,data=ordered: ro/rw and nosuid/nodev/noexec become fields, the rest stays."""
    out = []
    for o in (value or "").split(","):
        o = o.strip()
        if not o:
            continue
        if "\0" in o:
            raise UsageError("invalid value for options: contains a NUL byte")
        if o == "ro":
            values["readonly"] = True
        elif o == "rw":
            values.setdefault("_rw", True)
        elif o in FLAG_OPTIONS:
            values[o] = True
        elif o != "defaults":
            out.append(o)
    return tuple(out)


@_one_line
def parse_mount(spec: str) -> MountSpec:
    """Parse Docker's ``--mount`` form: CSV of ``key=value`` fields."""
    try:
        fields = next(csv.reader([spec]))
    except (csv.Error, StopIteration) as e:
        raise UsageError(f"invalid --mount '{spec}': {e}") from e
    values: dict = {"type": "volume"}
    labels, vopts, extra, given = [], [], [], []
    for f in fields:
        key, sep, value = f.partition("=")
        key = key.strip().lower()
        val = value if sep else None
        if key == "type":
            if val not in MOUNT_TYPES:
                raise UsageError(f"invalid --mount type '{val}'",
                                 hint="types supported by attach: " + ", ".join(MOUNT_TYPES))
            values["type"] = val
        elif key in ("source", "src"):
            values["source"] = val
        elif key in ("target", "destination", "dst"):
            values["target"] = val
        elif key in ("readonly", "ro"):
            values["readonly"] = _bool(key, val)
        elif key == "bind-propagation":
            if val not in PROPAGATIONS:
                raise UsageError(f"invalid value for bind-propagation: {val}",
                                 hint="one of " + ", ".join(PROPAGATIONS))
            values["propagation"] = val
        elif key == "bind-recursive":
            if val not in ("enabled", "disabled"):
                raise UsageError(f"invalid value for bind-recursive: {val}",
                                 hint="enabled or disabled")
            values["recursive"] = val == "enabled"
        elif key == "volume-nocopy":
            values["nocopy"] = _bool(key, val)
        elif key == "volume-driver":
            values["volume_driver"] = val
        elif key == "volume-label":
            labels.append(_pair(key, val))
        elif key == "volume-opt":
            vopts.append(_pair(key, val))
        elif key in FLAG_OPTIONS:
            values[key] = _bool(key, val)
        elif key == "fstype":
            if not FSTYPE.match(val or ""):
                raise UsageError(f"invalid value for fstype: '{val or ''}'", hint="a filesystem type, e.g. ext4")
            values["fstype"] = val
        elif key == "options":
            values["fs_options"] = _fs_options(val, values)
        elif key == "tmpfs-size":
            values["tmpfs_size"] = parse_size(val)
        elif key == "tmpfs-mode":
            values["tmpfs_mode"] = _octal(key, val)
        elif key in ("uid", "gid"):
            values[key] = _id(key, val)
        elif key == "volume-subpath":
            values["subpath"] = _subpath(val)
        elif key == "idmap":
            values["idmap"] = parse_idmap(val or "")
        elif key == "consistency":
            extra.append((key, val or ""))
        elif key == "":
            continue
        else:
            raise UsageError(f"unexpected key '{key}' in '{f}'")
        given.append(key)
    kind = values["type"]
    for key in given:
        if key in ONLY_FOR and kind not in ONLY_FOR[key]:
            raise UsageError(f"invalid --mount '{spec}': {key} is not valid for type={kind}",
                             hint=f"{key} applies to type " + ", ".join(ONLY_FOR[key]))
    if values.pop("_rw", False) and values.get("readonly"):
        raise UsageError(f"invalid --mount '{spec}': ro and rw conflict")
    if not values.get("target"):
        raise UsageError(f"invalid --mount '{spec}': target is required")
    values["target"] = _target(values["target"], spec)
    src = values.get("source")
    if values["type"] == "bind":
        if not src:
            raise UsageError(f"invalid --mount '{spec}': source is required for type=bind")
        if not src.startswith("/"):
            raise UsageError(f"invalid --mount '{spec}': bind source path must be absolute: '{src}'")
        values["source"] = posixpath.normpath(src)
        for k in ("nocopy", "volume_driver"):
            if values.get(k):
                raise UsageError(f"invalid --mount '{spec}': volume options are not valid for type=bind")
        if labels or vopts:
            raise UsageError(f"invalid --mount '{spec}': volume options are not valid for type=bind")
        _check_ro_propagation(values.get("readonly", False), values.get("propagation"), spec)
    elif kind == "volume":
        if src is not None and not VOLUME_NAME.match(src):
            raise bad_volume_name(src)
        if "propagation" in values or "recursive" in values:
            raise UsageError(f"invalid --mount '{spec}': bind options are not valid for type=volume")
    else:  # block, image, tmpfs: a filesystem of its own
        if "propagation" in values or "recursive" in values:
            raise UsageError(f"invalid --mount '{spec}': bind options are not valid for type={kind}")
        if any(values.get(k) for k in ("nocopy", "volume_driver")) or labels or vopts:
            raise UsageError(f"invalid --mount '{spec}': volume options are not valid for type={kind}")
        if kind == "tmpfs":
            if src:
                raise UsageError(f"invalid --mount '{spec}': source is not allowed for type=tmpfs",
                                 hint="size and mode are set with tmpfs-size= and tmpfs-mode=")
            values.pop("source", None)
        elif not src:
            raise UsageError(f"invalid --mount '{spec}': source is required for type={kind}",
                             hint="the block device (type=block) or image file (type=image) to mount")
        elif kind == "block" and not src.startswith("/"):
            raise UsageError(f"invalid --mount '{spec}': block device path must be absolute: '{src}'")
        elif src.startswith("/"):
            values["source"] = posixpath.normpath(src)
    return MountSpec(volume_labels=tuple(labels), volume_options=tuple(vopts), extra=tuple(extra),
                     **values)


def check_unique_targets(specs: list[MountSpec]) -> None:
    seen = set()
    for s in specs:
        if s.target in seen:
            raise UsageError(f"duplicate mount point: {s.target}")
        seen.add(s.target)


def to_volume_string(spec: MountSpec) -> str:
    """Format a spec back into ``-v`` form (used by tests and by ``ls``)."""
    opts = spec.options()
    if opts == ["rw"]:
        opts = []
    head = f"{spec.source}:{spec.target}" if spec.source else spec.target
    return head + (":" + ",".join(opts) if opts else "")


# ---------------------------------------------------------------- idmap and volumes-from

IDMAP_MAX_RANGES = 340  # the kernel's limit on lines in uid_map/gid_map
ID_LIMIT = 1 << 32


def idmap_ranges(value: str) -> dict[str, tuple[tuple[int, int, int], ...]]:
    """``uids=0-1000-10#10-2000-5;gids=0-1000-10`` -> {"uids": ((0, 1000, 10), ...), "gids": ...}.

    Podman's syntax: each FROM-TO-COUNT maps the IDs stored on disk (FROM..)
    to the IDs the mount shows (TO..), which the container then sees through
    its own user namespace. A side left out keeps the container's mapping.
    """
    out: dict[str, tuple[tuple[int, int, int], ...]] = {}
    for part in value.split(";"):
        key, sep, body = part.partition("=")
        if key not in ("uids", "gids") or not sep or key in out:
            raise UsageError(f"invalid idmap '{value}': expected uids=FROM-TO-COUNT[#...];gids=...",
                             hint="e.g. idmap=uids=0-1000-10;gids=0-1000-10, or plain idmap")
        ranges = []
        for r in body.split("#"):
            if r.startswith("@"):
                raise UsageError(f"invalid idmap '{value}': relative (@) mappings are not supported",
                                 hint="give host IDs")
            nums = r.split("-")
            if len(nums) != 3 or not all(n.isdigit() for n in nums):
                raise UsageError(f"invalid idmap range '{r}' in '{value}': expected FROM-TO-COUNT",
                                 hint="three numbers, e.g. 0-1000-10")
            a, b, n = (int(x) for x in nums)
            if n == 0 or a + n > ID_LIMIT - 1 or b + n > ID_LIMIT - 1:
                raise UsageError(f"invalid idmap range '{r}' in '{value}': count must be positive and "
                                 f"the range within 0..{ID_LIMIT - 2}")
            ranges.append((a, b, n))
        if len(ranges) > IDMAP_MAX_RANGES:
            raise UsageError(f"invalid idmap '{value}': more than {IDMAP_MAX_RANGES} {key} ranges")
        for side in (0, 1):
            spans = sorted((r[side], r[side] + r[2]) for r in ranges)
            if any(spans[i][1] > spans[i + 1][0] for i in range(len(spans) - 1)):
                raise UsageError(f"invalid idmap '{value}': {key} ranges overlap")
        out[key] = tuple(ranges)
    return out


@_one_line
def parse_idmap(value: str) -> str:
    """Check an idmap option's value and return it in canonical form ("" for plain ``idmap``)."""
    if not value:
        return ""
    ranges = idmap_ranges(value)
    return ";".join(f"{k}=" + "#".join(f"{a}-{b}-{n}" for a, b, n in ranges[k])
                    for k in ("uids", "gids") if k in ranges)


CONTAINER_REF = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


@dataclass(frozen=True)
class FromSpec:
    """``--from CONTAINER[:TARGET][:ro|rw]``: the mounts of another container, as --volumes-from."""

    container: str
    target: str | None = None  # only the mount at this path; None: all of them
    mode: str | None = None  # "ro" or "rw"; None: each mount's own mode


@_one_line
def parse_from(spec: str) -> FromSpec:
    parts = spec.split(":")
    name, rest = parts[0], parts[1:]
    if not CONTAINER_REF.match(name):
        raise UsageError(f"invalid --from '{spec}': '{name}' is not a container name or ID",
                         hint="use CONTAINER, CONTAINER:ro or CONTAINER:/path[:ro]")
    target = mode = None
    if rest and rest[0].startswith("/"):
        target = _target(rest.pop(0), spec)
    if rest:
        mode = rest.pop(0)
        if mode not in ("ro", "rw"):
            raise UsageError(f"invalid --from '{spec}': unknown mode '{mode}'", hint="ro or rw")
    if rest:
        raise UsageError(f"invalid --from '{spec}'", hint="use CONTAINER, CONTAINER:ro or CONTAINER:/path[:ro]")
    return FromSpec(name.lstrip("/"), target, mode)


__all__ = ["MountSpec", "parse_volume", "parse_mount", "check_unique_targets", "replace"]
