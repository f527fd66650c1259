"""Mount specs in Docker's syntax: ``-v SRC:DST[:OPTS]`` and ``--mount k=v,...``.

Parsing is pure: it validates everything a spec says on its own (absolute
paths, names, option spelling, conflicts) and raises :class:`UsageError`
with Docker's wording where Docker has one. Whether a source exists is checked
later, by the planner.
"""

from __future__ import annotations

import csv
import posixpath
import re
from dataclasses import dataclass, field, replace

from dynvol.errors import UsageError

VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
MOUNT_TYPES = ("bind", "volume")
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
    if VOLUME_NAME.match(src):
        return "volume", src
    raise UsageError(
        f'"{src}" includes invalid characters for a local volume name, only '
        f'"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
        f"use absolute path")


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
        elif o in ("z", "Z"):
            extra.append(("selinux-relabel", o))
        elif o:
            raise UsageError(f"invalid mode: {o}", hint="known modes: ro, rw, z, Z, nocopy, "
                                                        + ", ".join(PROPAGATIONS))
    if propagation and kind != "bind":
        raise UsageError(f"invalid mode: {parts[2]}: propagation applies to bind mounts only")
    if nocopy and kind != "volume":
        raise UsageError(f"invalid mode: {parts[2]}: nocopy applies to volumes only")
    return MountSpec(type=kind, source=source, target=target, readonly=readonly,
                     propagation=propagation, nocopy=nocopy, extra=tuple(extra))


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


def parse_mount(spec: str) -> MountSpec:
    """Parse Docker's ``--mount`` form: CSV of ``key=value`` fields."""
    try:
        fields = next(csv.reader([spec]))
    except (csv.Error, StopIteration) as e:
        raise UsageError(f"invalid --mount '{spec}': {e}") from e
    values: dict = {"type": "volume"}
    labels, vopts, extra = [], [], []
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
        elif key == "consistency":
            extra.append((key, val or ""))
        elif key == "":
            continue
        else:
            raise UsageError(f"unexpected key '{key}' in '{f}'")
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
    else:
        if src is not None and not VOLUME_NAME.match(src):
            _source(src, spec)  # raises Docker's message for a path-like name
        if "propagation" in values or "recursive" in values:
            raise UsageError(f"invalid --mount '{spec}': bind options are not valid for type=volume")
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


__all__ = ["MountSpec", "parse_volume", "parse_mount", "check_unique_targets", "replace"]
