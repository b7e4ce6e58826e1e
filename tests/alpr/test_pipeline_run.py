"""The shared edge + flow run: child environments, camera ids, and ``alpr demo`` on the test stack."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from alpr.pipeline_run import PipelineError, camera_ids, child_env
from config.load import load_settings
from config.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def test_child_env_points_children_at_the_services_of_the_settings(tmp_path: Path) -> None:
    base = Settings()
    settings = base.model_copy(
        update={
            "kafka": base.kafka.model_copy(update={"bootstrap_servers": "127.0.0.1:1111"}),
            "s3": base.s3.model_copy(update={"endpoint": "127.0.0.1:2222", "secret_key": SecretStr("s3cr3t")}),
            "database": base.database.model_copy(update={"url": SecretStr("postgresql://u@127.0.0.1:3333/x")}),
        }
    )
    env = child_env(settings, metrics=False, base={"PATH": "/bin", "ALPR_S3__ENDPOINT": "elsewhere:1"})
    assert env["PATH"] == "/bin"
    assert env["ALPR_METRICS__ENABLED"] == "false"
    # What a child loads from these variables is what the parent's settings say.
    config = tmp_path / "c.yaml"
    config.write_text("kafka: {bootstrap_servers: 'yaml:9'}\n")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        seen = load_settings(config)
    assert seen.kafka.bootstrap_servers == "127.0.0.1:1111"
    assert seen.kafka.schema_registry_url == settings.kafka.schema_registry_url
    assert seen.s3.endpoint == "127.0.0.1:2222"
    assert seen.s3.secret_key.get_secret_value() == "s3cr3t"
    assert seen.database.url.get_secret_value() == "postgresql://u@127.0.0.1:3333/x"
    assert seen.metrics.enabled is False
    assert "ALPR_METRICS__ENABLED" not in child_env(settings, base={})


def test_camera_ids_of_the_edge_configs(tmp_path: Path) -> None:
    assert camera_ids([REPO / "config" / "cameras.yaml"]) == ("sample-1",)
    empty = tmp_path / "none.yaml"
    empty.write_text("edge: {cameras: []}\n")
    with pytest.raises(PipelineError, match="no cameras"):
        camera_ids([empty])
    bad = tmp_path / "bad.yaml"
    bad.write_text("edge: {cameras: [{url: x.mp4}]}\n")
    with pytest.raises(PipelineError, match="id"):
        camera_ids([bad])


def _stack_env(settings: Settings) -> dict[str, str]:
    """ALPR_* variables under which `alpr services up` finds the test session's running stack."""
    env = child_env(settings, metrics=False, base={})
    env["ALPR_SERVICES__RUN_DIR"] = str(settings.services.run_dir)
    env["ALPR_SERVICES__BROKER_STORAGE"] = settings.services.broker_storage
    env["ALPR_SERVICES__PROMETHEUS"] = "false"
    for name, port in settings.services.ports.model_dump().items():
        env[f"ALPR_SERVICES__PORTS__{name.upper()}"] = str(port)
    return env


@pytest.mark.integration
def test_demo_stores_and_prints_the_sample_plate(settings, tmp_path: Path) -> None:
    """`alpr demo` end to end: services (already up) checked, migrated, flow + edge, the event printed."""
    from alpr.demo import demo

    cameras = tmp_path / "cameras.yaml"  # the sample camera, with an outbox of its own
    cameras.write_text((REPO / "config" / "cameras.yaml").read_text() + f"  spool: {{dir: {tmp_path / 'spool'}}}\n")
    try:
        result = CliRunner().invoke(demo, ["--config", str(cameras), "--wait", "60"], env=_stack_env(settings))
    finally:  # the demo leaves its services up; the test stack's fixture stops all but PostgreSQL
        # (a private cluster where TimescaleDB is installed here but not on the configured server)
        from services import stack

        stack.down(settings, only=["postgres"], grace_s=5.0)
    assert result.exit_code == 0, result.output + (result.stderr or "")
    lines = result.stdout.splitlines()
    rows = [line.split() for line in lines if " sample-1 " in line]
    assert [r[3] for r in rows] == ["LZW9715"], result.stdout  # first_seen is two words: date, time
    assert rows[0][-1].startswith("http")  # a presigned crop URL
    assert "1 event(s);" in lines[-1]
    assert (Path(settings.services.run_dir) / "logs" / "demo-flow.log").is_file()


def test_an_unreachable_database_is_a_pipeline_error() -> None:
    from datetime import UTC, datetime

    from alpr.pipeline_run import rejected_reads, stored_events
    from tests.fixtures.stack import free_local_ports

    url = f"postgresql://postgres@127.0.0.1:{free_local_ports().postgres}/alpr"
    with pytest.raises(PipelineError, match="cannot read plate_events"):
        stored_events(url, datetime.now(UTC), ["cam"])
    with pytest.raises(PipelineError, match="cannot read rejected_reads"):
        rejected_reads(url, datetime.now(UTC), ["cam"])
