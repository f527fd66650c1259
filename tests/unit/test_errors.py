"""Error classes carry exit codes; the CLI maps them in one place."""

import errno

import pytest

from dynvol.cli.main import main
from dynvol.errors import (Busy, Conflict, DynvolError, EngineUnreachable, ExitStatus, KernelError,
                           NotFound, PermissionDenied, Unsupported, UsageError)


@pytest.mark.parametrize("cls, code", [
    (DynvolError, 1), (UsageError, 2), (NotFound, 3), (PermissionDenied, 4), (Unsupported, 5),
    (EngineUnreachable, 6), (Conflict, 1), (Busy, 1)])
def test_exit_codes(cls, code):
    assert cls("x").exit_code == code


@pytest.mark.parametrize("err, code", [
    (errno.EPERM, ExitStatus.PERMISSION), (errno.EACCES, ExitStatus.PERMISSION),
    (errno.ENOSYS, ExitStatus.UNSUPPORTED), (errno.ENOENT, ExitStatus.NOT_FOUND),
    (errno.EBUSY, ExitStatus.FAILED)])
def test_kernel_error_maps_errno(err, code):
    e = KernelError("move_mount", err, step="place mount")
    assert e.exit_code == code
    assert e.message.startswith("place mount: move_mount: ")
    assert errno.errorcode[err] in e.message


def test_kernel_error_round_trips_as_data():
    e = KernelError("openat2", errno.ELOOP, step="resolve target", path="/x")
    back = KernelError.from_dict(e.to_dict())
    assert (back.syscall, back.errno, back.step, back.path, str(back)) == \
        ("openat2", errno.ELOOP, "resolve target", "/x", str(e))


def test_cli_prints_one_line_and_hint(monkeypatch, capsys):
    import dynvol.cli.main as m

    def boom(*a, **k):
        raise NotFound("no such container: web", hint="see `docker ps -a`")

    monkeypatch.setattr(m.cli, "main", boom)
    with pytest.raises(SystemExit) as e:
        main(["ls"])
    assert e.value.code == 3
    err = capsys.readouterr().err.splitlines()
    assert err == ["dynvol: no such container: web", "hint: see `docker ps -a`"]


def test_cli_usage_error_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["attach", "web", "data/x:/x"])
    assert e.value.code == 2
    assert "use absolute path" in capsys.readouterr().err


def test_cli_unknown_command_exit_2():
    with pytest.raises(SystemExit) as e:
        main(["frobnicate"])
    assert e.value.code == 2
