"""PID files, stopping by PID and port helpers, against real child processes."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.process import (
    Launch,
    ProcessFiles,
    free_ports,
    pid_alive,
    port_in_use,
    read_pid,
    spawn,
    stop_pid,
)

SLEEPER = "import time; time.sleep(60)"
STUBBORN = (
    "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(60)"
)


def _wait_for_log(files: ProcessFiles, text: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in files.log_file.read_text():
        assert time.monotonic() < deadline, files.log_tail()
        time.sleep(0.02)


def test_spawn_writes_pid_file_and_log(tmp_path):
    files = ProcessFiles(tmp_path, "echo")
    pid = spawn(files, Launch(argv=(sys.executable, "-c", "print('hello from child')")))
    assert files.pid_file.read_text().strip() == str(pid)
    deadline = time.monotonic() + 10
    while pid_alive(pid):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert "hello from child" in files.log_file.read_text()


def test_read_pid_finds_live_process_and_removes_stale_file(tmp_path):
    files = ProcessFiles(tmp_path, "sleeper")
    pid = spawn(files, Launch(argv=(sys.executable, "-c", SLEEPER)))
    try:
        # Right after fork the child still shows the parent's command line until it execs.
        cmdline = Path(f"/proc/{pid}/cmdline")
        deadline = time.monotonic() + 10
        while b"time.sleep(60)" not in cmdline.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert read_pid(files, "time.sleep(60)") == pid
        # Same PID, other program: the PID was reused, so the file is stale.
        assert read_pid(files, "no-such-program") is None
        assert not files.pid_file.exists()
    finally:
        stop_pid(pid, grace_s=5)
    files.pid_file.write_text(f"{pid}\n")
    assert read_pid(files, "time.sleep(60)") is None
    assert not files.pid_file.exists()


def test_read_pid_removes_corrupt_file(tmp_path):
    files = ProcessFiles(tmp_path, "corrupt")
    files.pid_file.parent.mkdir(parents=True)
    files.pid_file.write_text("not a pid")
    assert read_pid(files, "x") is None
    assert not files.pid_file.exists()


def test_stop_pid_terminates_politely():
    proc = subprocess.Popen([sys.executable, "-c", SLEEPER])
    assert stop_pid(proc.pid, grace_s=5) is False
    assert not pid_alive(proc.pid)


def test_stop_pid_kills_process_ignoring_sigterm(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    started = time.monotonic()
    assert stop_pid(proc.pid, grace_s=0.5) is True
    assert not pid_alive(proc.pid)
    assert time.monotonic() - started < 5


def test_stop_pid_of_missing_process_is_a_no_op():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=10)
    assert stop_pid(proc.pid, grace_s=0.1) is False


def test_free_ports_are_distinct_and_bindable():
    ports = free_ports(5)
    assert len(set(ports)) == 5
    for port in ports:
        assert not port_in_use(port)


def test_port_in_use_sees_a_listener():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert port_in_use(sock.getsockname()[1])


@pytest.mark.parametrize("argv", [("/no/such/binary",)])
def test_spawn_missing_binary_is_a_service_error(tmp_path, argv):
    from services.process import ServiceError

    with pytest.raises(ServiceError, match="cannot start /no/such/binary"):
        spawn(ProcessFiles(tmp_path, "missing"), Launch(argv=argv))
