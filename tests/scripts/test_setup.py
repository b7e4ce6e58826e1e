"""``scripts/setup.sh`` picks a Python that the project installs on, or stops at once saying so.

Each case runs a copy of the script in a temporary folder (it works relative to its own
location), so nothing here touches the repository's ``.venv`` or the system packages.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "setup.sh"
BASH = shutil.which("bash") or "/bin/bash"


def _stub(path: Path, version: str | None) -> Path:
    """An executable that answers the script's version probe with ``version`` (None: exits 127,
    as a pyenv shim of an unselected version does)."""
    body = f"echo {version}" if version else "echo 'pyenv: not selected' >&2; exit 127"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def _real_python313() -> list[str]:
    """Paths of a real CPython 3.13 on this machine, if one runs."""
    found = []
    for cand in [shutil.which("python3.13"), *map(str, Path("/root/.pyenv/versions").glob("3.13*/bin/python3.13"))]:
        if not cand:
            continue
        out = subprocess.run([cand, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip() == "(3, 13)":
            found.append(cand)
    return found[:1]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A folder holding only ``scripts/setup.sh``."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(SCRIPT, tmp_path / "scripts" / "setup.sh")
    return tmp_path


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """A PATH folder with only what the script needs besides Python (no python, no uv)."""
    d = tmp_path / "bin"
    d.mkdir()
    for tool in ("dirname", "timeout"):
        (d / tool).symlink_to(shutil.which(tool))
    return d


def _run(tree: Path, env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    out = subprocess.run(
        [BASH, str(tree / "scripts" / "setup.sh"), *args], capture_output=True, text=True, env=env, timeout=60
    )
    return out, time.monotonic() - start


def _assert_refused(out: subprocess.CompletedProcess[str], elapsed: float, tree: Path) -> str:
    assert out.returncode == 1, out.stdout + out.stderr
    assert elapsed < 5, f"took {elapsed:.1f} s"
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr  # one clear line
    line = lines[0]
    assert line.startswith("error: ")
    assert "Python 3.11 or 3.12" in line
    assert "uv python install 3.12" in line and "PYTHON=" in line
    assert not (tree / ".venv").exists()  # stopped before installing anything
    return line


@pytest.mark.parametrize("kind", ["stub", *(["real"] if _real_python313() else [])])
def test_unsupported_python_is_refused_at_once_with_what_to_install(tree: Path, bin_dir: Path, kind: str) -> None:
    py = _stub(tree / "python3.13", "3.13") if kind == "stub" else Path(_real_python313()[0])
    out, elapsed = _run(tree, {"PATH": str(bin_dir), "PYTHON": str(py)})
    line = _assert_refused(out, elapsed, tree)
    assert f"PYTHON={py} is Python 3.13" in line


def test_no_supported_python_on_path_names_what_was_found(tree: Path, bin_dir: Path) -> None:
    _stub(bin_dir / "python3", "3.13")
    _stub(bin_dir / "python3.12", None)  # an unselected pyenv shim: found on PATH, does not run
    out, elapsed = _run(tree, {"PATH": str(bin_dir)})
    line = _assert_refused(out, elapsed, tree)
    assert "on PATH: python3=3.13" in line


def test_uv_without_network_still_ends_quickly(tree: Path, bin_dir: Path) -> None:
    _stub(bin_dir / "python3", "3.13")
    uv = bin_dir / "uv"
    uv.write_text("#!/bin/sh\necho 'error: failed to lookup address information' >&2\nexit 2\n")
    uv.chmod(0o755)
    out, elapsed = _run(tree, {"PATH": str(bin_dir)})
    assert out.returncode == 1
    assert elapsed < 5
    assert out.stderr.strip().splitlines()[-1].startswith("error: no Python 3.11 or 3.12 found")


def test_prefers_3_12_then_3_11_and_skips_shims_that_do_not_run(tree: Path, bin_dir: Path) -> None:
    _stub(bin_dir / "python3.12", None)
    py311 = _stub(bin_dir / "python3.11", "3.11")
    _stub(bin_dir / "python3", "3.13")
    out, _ = _run(tree, {"PATH": str(bin_dir)}, "--print-python")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(py311)

    py312 = _stub(bin_dir / "python3.12", "3.12")
    out, _ = _run(tree, {"PATH": str(bin_dir)}, "--print-python")
    assert out.stdout.strip() == str(py312)


def test_supported_python_given_is_used(tree: Path, bin_dir: Path) -> None:
    py = _stub(tree / "mypython", "3.12")
    out, _ = _run(tree, {"PATH": str(bin_dir), "PYTHON": str(py)}, "--print-python")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(py)


def test_existing_venv_keeps_being_used(tree: Path, bin_dir: Path) -> None:
    (tree / ".venv" / "bin").mkdir(parents=True)
    _stub(tree / ".venv" / "bin" / "python", "3.11")
    _stub(bin_dir / "python3.12", "3.12")
    out, _ = _run(tree, {"PATH": str(bin_dir)}, "--print-python")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ".venv/bin/python"


def test_venv_of_an_unsupported_python_is_refused(tree: Path, bin_dir: Path) -> None:
    (tree / ".venv" / "bin").mkdir(parents=True)
    _stub(tree / ".venv" / "bin" / "python", "3.13")
    out, elapsed = _run(tree, {"PATH": str(bin_dir)})
    assert out.returncode == 1 and elapsed < 5
    assert "rm -rf .venv" in out.stderr


def test_pyproject_states_the_supported_pythons() -> None:
    import tomllib

    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert meta["requires-python"] == ">=3.11,<3.13"
