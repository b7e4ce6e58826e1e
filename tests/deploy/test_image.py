"""The image (Dockerfile) and the extras it installs: one OpenCV, one ONNX Runtime, a cached
dependency layer, a non-root user, a HEALTHCHECK. No Docker engine here: the Dockerfile is read,
and its dependency resolution is run with uv exactly as the Dockerfile runs it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
RUNTIMES = {"onnxruntime", "onnxruntime-gpu"}


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [
        (line.split(None, 1)[0], line.split(None, 1)[1] if " " in line.strip() else "")
        for line in (raw.strip() for raw in text.splitlines())
        if line and not line.startswith("#")
    ]


def test_dependencies_are_installed_before_the_code_is_copied() -> None:
    steps = _instructions()
    copies = [i for i, (op, _) in enumerate(steps) if op == "COPY" and "--from" not in steps[i][1]]
    first_copy, code_copy = copies[0], next(i for i in copies if steps[i][1].startswith(". "))
    assert steps[first_copy][1].split()[:-1] == ["pyproject.toml", "deploy/overrides.txt"]  # no source
    installs = [i for i, (op, arg) in enumerate(steps) if op == "RUN" and "uv pip install" in arg]
    assert installs[0] < code_copy < installs[1]
    assert "--no-deps" in steps[installs[1]][1]  # the code layer resolves nothing again


def test_runs_as_a_non_root_user_with_a_healthcheck() -> None:
    steps = _instructions()
    users = [arg for op, arg in steps if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    healthcheck = next(arg for op, arg in steps if op == "HEALTHCHECK")
    assert "alpr.probe" in healthcheck
    assert any(op == "RUN" and "chown" in arg and "/var/lib/alpr" in arg for op, arg in steps)


def _extra_closure(extra: str, seen: frozenset[str] = frozenset()) -> set[str]:
    """Distribution names an extra pulls in directly, following alpr-platform[...] references."""
    names: set[str] = set()
    for req in PYPROJECT["project"]["optional-dependencies"][extra]:
        name = re.split(r"[<>=!;\[ ]", req, maxsplit=1)[0].lower()
        if name == "alpr-platform":
            for inner in re.search(r"\[(.*)\]", req).group(1).split(","):
                if inner not in seen:
                    names |= _extra_closure(inner.strip(), seen | {extra})
        else:
            names.add(name)
    return names


def test_no_extra_installs_two_onnx_runtimes_and_uv_refuses_the_combinations() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    for extra in extras:
        assert len(_extra_closure(extra) & RUNTIMES) <= 1, extra
    conflicts = {frozenset(d["extra"] for d in group) for group in PYPROJECT["tool"]["uv"]["conflicts"]}
    cpu = {e for e in extras if "onnxruntime" in _extra_closure(e)}
    gpu = {e for e in extras if "onnxruntime-gpu" in _extra_closure(e)}
    assert cpu and gpu
    for a in cpu:
        for b in gpu:
            assert frozenset({a, b}) in conflicts, f"{a} + {b} would install both runtimes"


def _resolve(*extra_args: str) -> subprocess.CompletedProcess[str]:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    match = re.search(r"uv pip compile pyproject.toml (.*?) -o ", re.sub(r"\\\n\s*", " ", DOCKERFILE))
    assert match, "the Dockerfile resolves its dependencies with `uv pip compile pyproject.toml ... -o`"
    args = match.group(1).replace("--override overrides.txt", f"--override {ROOT / 'deploy' / 'overrides.txt'}")
    argv = [uv, "pip", "compile", str(ROOT / "pyproject.toml"), *args.split(), "--no-config", *extra_args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, cwd="/")  # noqa: S603


def test_the_image_resolves_one_opencv_and_one_onnx_runtime() -> None:
    # --offline: from uv's cache of the set-up (scripts/setup.sh installs the same packages).
    result = _resolve("--offline", "-q")
    if result.returncode != 0:
        pytest.skip(f"uv cannot resolve offline here: {result.stderr.strip()[:300]}")
    pins = {line.split("==")[0].lower() for line in result.stdout.splitlines() if "==" in line}
    assert {p for p in pins if p.startswith("opencv")} == {"opencv-python-headless"}
    assert pins & RUNTIMES == {"onnxruntime"}
    assert not {"torch", "ultralytics"} & pins
