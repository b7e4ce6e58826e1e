"""Failures of `up` are reported per service, with the reason, and stop what depends on them."""

from __future__ import annotations

import socket

from services import stack
from tests.fixtures.stack import make_stack_settings


def test_busy_port_fails_the_service_and_its_dependents(tmp_path):
    settings = make_stack_settings(tmp_path / "run", broker_storage="s3")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", settings.services.ports.s3))
        squatter.listen()
        reports = {r.name: r for r in stack.up(settings, only=["broker"])}
    assert reports["s3"].state == "failed"
    assert f"{settings.services.ports.s3}" in reports["s3"].detail
    assert "not managed here" in reports["s3"].detail
    assert reports["broker"].state == "failed"
    assert reports["broker"].detail == "dependency not running: s3"
    assert not (tmp_path / "run" / "pids" / "broker.pid").exists()


def test_down_with_nothing_running_reports_each_service(tmp_path):
    settings = make_stack_settings(tmp_path / "run")
    reports = stack.down(settings)
    assert [r.name for r in reports] == ["prometheus", "postgres", "registry", "broker", "s3"]
    assert all(r.pid is None and r.detail == "not running" for r in reports)
