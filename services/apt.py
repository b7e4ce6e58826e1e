"""Install missing Debian packages for the local stack (root only), or say how to."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess

log = logging.getLogger(__name__)

APT_TIMEOUT_S = 900


def install_command(packages: tuple[str, ...]) -> str:
    """The command a user runs to install ``packages``."""
    return "sudo apt-get install -y " + " ".join(packages)


def apt_install(packages: tuple[str, ...]) -> str | None:
    """Install ``packages`` with apt-get when root; None on success, else why not (with the command)."""
    if os.geteuid() != 0:
        return f"not root; run: {install_command(packages)}"
    if shutil.which("apt-get") is None:
        return "apt-get not found (not a Debian system)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    log.warning("installing %s with apt-get", " ".join(packages))

    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - fixed argv, no shell
            argv, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT_S, check=False
        )

    result = run(cmd)
    if result.returncode != 0 and run(["apt-get", "update"]).returncode == 0:
        result = run(cmd)  # a stale package index is the usual cause
    if result.returncode != 0:
        return f"`{' '.join(cmd)}` failed: {result.stderr.strip()[-500:]}"
    return None
