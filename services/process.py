"""Start, find and stop the local service processes by PID file.

Every managed process has ``RUN_DIR/pids/NAME.pid`` (its PID) and ``RUN_DIR/logs/NAME.log``
(stdout + stderr). A PID file whose process is gone, or now belongs to another program (the
PID was reused), is *stale*: it is removed and the service counts as stopped.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


class ServiceError(RuntimeError):
    """A local service could not be started, checked or stopped; the message says why."""


@dataclass(frozen=True)
class Launch:
    """How to start one service process."""

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    user: str | None = None


@dataclass(frozen=True)
class ProcessFiles:
    """The PID and log files of one named service under a run dir."""

    run_dir: Path
    name: str

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "pids" / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "logs" / f"{self.name}.log"

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the log, for error messages."""
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def pid_alive(pid: int) -> bool:
    """True when a process with this PID exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    # Field 3, after the parenthesised command name, is the state; Z = zombie, X = dead.
    state = stat.rsplit(")", 1)[-1].split()[0]
    if state in ("Z", "X"):
        _reap(pid)
        return False
    return True


def _reap(pid: int) -> None:
    # Our own child that exited: collect it so it does not linger as a zombie.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def command_line(pid: int) -> tuple[str, ...]:
    """The argv of a live process (empty when it cannot be read)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ()
    return tuple(part.decode(errors="replace") for part in raw.split(b"\0")[:-1])


def read_pid(files: ProcessFiles, identity: str) -> int | None:
    """The PID of the running service, or None; a stale PID file is removed."""
    try:
        text = files.pid_file.read_text().strip()
    except FileNotFoundError:
        return None
    try:
        pid = int(text)
    except ValueError:
        log.warning("%s: PID file %s is corrupt (%r); removing it", files.name, files.pid_file, text)
        files.pid_file.unlink(missing_ok=True)
        return None
    if pid_alive(pid) and identity in " ".join(command_line(pid)):
        return pid
    log.info("%s: stale PID file %s (pid %s is gone); removing it", files.name, files.pid_file, pid)
    files.pid_file.unlink(missing_ok=True)
    return None


def _die_with_parent() -> None:
    # Test stacks: the kernel sends SIGTERM to the service when the test process dies.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def spawn(files: ProcessFiles, launch: Launch, *, die_with_parent: bool = False) -> int:
    """Start the process in its own session, output to the log file; write and return its PID."""
    files.pid_file.parent.mkdir(parents=True, exist_ok=True)
    files.log_file.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **launch.env}
    with open(files.log_file, "ab") as out:
        out.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} start: {' '.join(launch.argv)}\n".encode())
        out.flush()
        try:
            proc = subprocess.Popen(  # noqa: S603 - argv built from settings, no shell
                list(launch.argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=launch.cwd,
                env=env,
                user=launch.user,
                group=launch.user,
                start_new_session=True,
                preexec_fn=_die_with_parent if die_with_parent else None,  # noqa: PLW1509
            )
        except OSError as exc:
            raise ServiceError(f"{files.name}: cannot start {launch.argv[0]}: {exc}") from exc
    files.pid_file.write_text(f"{proc.pid}\n")
    log.info("%s: started pid %s", files.name, proc.pid)
    return proc.pid


def stop_pid(pid: int, *, sig: int = signal.SIGTERM, grace_s: float = 10.0) -> bool:
    """Send ``sig``, wait up to ``grace_s``, then SIGKILL. Returns True if SIGKILL was needed."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return False
        time.sleep(0.05)
    log.warning("pid %s did not stop within %.1fs of signal %s; sending SIGKILL", pid, grace_s, sig)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.05)
    return True


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something already listens on (or holds) ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports that are free right now (the kernel's ephemeral choice)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()
