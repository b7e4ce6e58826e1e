"""``alpr init``: make a deployment ready for the flow and the API, leaving what exists alone.

Each step is idempotent, so the compose file runs it on every ``up`` (its ``init`` service) and
the flow and the API start only once it succeeded:

1. database: create it if missing and apply pending migrations (``alpr db migrate``);
2. bucket: create the crops bucket (private) when missing;
3. topics: create the five topics with ``--partitions`` / ``--replication-factor`` when missing
   (an existing topic keeps its partitions; add some with Kafka's own tools);
4. recovery (``--recovery-dir``): create the flow's Bytewax recovery partitions when the
   directory holds none; existing partitions (and their snapshots) are never touched.

Bytewax 0.21.1 refuses to start on an empty recovery directory (``NoPartitionsError``) and its
``python -m bytewax.recovery DIR N`` fails on one that has partitions already: step 4 runs it
only on a directory without any, building the partitions aside and moving them in.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import click

from config.load import ConfigError, load_settings
from config.settings import Settings

log = logging.getLogger(__name__)

RECOVERY_GLOB = "part-*.sqlite3"
STEPS = ("database", "bucket", "topics", "recovery")


class InitError(RuntimeError):
    """A step of ``alpr init`` could not be done (the message names the step and the cause)."""


def init_recovery(directory: Path, partitions: int) -> bool:
    """Create ``partitions`` empty Bytewax recovery partitions in ``directory`` unless it has some.

    Returns True when it created them, False when the directory already had partitions.
    """
    from bytewax.recovery import init_db_dir

    directory.mkdir(parents=True, exist_ok=True)
    if any(directory.glob(RECOVERY_GLOB)):
        return False
    staging = directory / ".alpr-init"
    shutil.rmtree(staging, ignore_errors=True)  # left over by an interrupted run
    staging.mkdir()
    init_db_dir(staging, partitions)
    for part in sorted(staging.glob(RECOVERY_GLOB)):
        part.rename(directory / part.name)
    shutil.rmtree(staging)
    return True


def migrate_database(settings: Settings) -> str:
    """Apply pending migrations; a line saying what was done."""
    from db.connect import DatabaseUnavailableError
    from db.migrate import MigrationError, migrate

    try:
        applied = migrate(
            settings.database.url.get_secret_value(), retention_days=settings.database.reads_retention_days
        )
    except (MigrationError, DatabaseUnavailableError) as exc:
        raise InitError(f"database: {exc}") from exc
    if not applied:
        return "database: up to date"
    return "database: applied " + ", ".join(f"{m.version:04d}_{m.name}" for m in applied)


def create_bucket(settings: Settings) -> str:
    """Create the crops bucket when missing; a line saying what was done."""
    import urllib3
    from minio import Minio
    from minio.error import MinioException

    s3 = settings.s3
    client = Minio(
        s3.endpoint,
        access_key=s3.access_key,
        secret_key=s3.secret_key.get_secret_value(),
        secure=s3.secure,
        region=s3.region,
        http_client=urllib3.PoolManager(timeout=urllib3.Timeout(connect=10, read=30), retries=urllib3.Retry(3)),
    )
    try:
        if client.bucket_exists(s3.bucket):
            return f"bucket: {s3.bucket} exists"
        client.make_bucket(s3.bucket)
    except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise InitError(f"bucket {s3.bucket} at {s3.endpoint}: {exc}") from exc
    return f"bucket: created {s3.bucket}"


def create_topics(settings: Settings, partitions: int, replication_factor: int, timeout_s: float = 30.0) -> str:
    """Create the platform's topics that are missing; a line saying what was done."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    from config.kafka import client_config

    topics = settings.kafka.topics
    names = [topics.crops, topics.detections, topics.plates, topics.alerts, topics.dead_letter]
    admin = AdminClient(client_config(settings.kafka, logger=logging.getLogger("alpr.init.librdkafka")))
    futures = admin.create_topics(
        [NewTopic(n, num_partitions=partitions, replication_factor=replication_factor) for n in names],
        request_timeout=timeout_s,
    )
    created, kept = [], []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout_s)
            created.append(name)
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            if isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                kept.append(name)
                continue
            raise InitError(f"topics: cannot create {name} on {settings.kafka.bootstrap_servers}: {exc}") from exc
    parts = []
    if created:
        parts.append(f"created {', '.join(sorted(created))} ({partitions} partitions)")
    if kept:
        parts.append(f"kept {', '.join(sorted(kept))}")
    return "topics: " + "; ".join(parts)


@click.command("init")
@click.option(
    "--config",
    "config_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Settings YAML (repeatable; default $ALPR_CONFIG or config/default.yaml).",
)
@click.option(
    "--partitions",
    type=click.IntRange(1, 10_000),
    default=6,
    show_default=True,
    help="Partitions of the topics it creates (at least the flow's workers in total).",
)
@click.option(
    "--replication-factor",
    type=click.IntRange(1, 10),
    default=1,
    show_default=True,
    help="Replicas of the topics it creates (3 on a three-broker cluster).",
)
@click.option(
    "--recovery-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The flow's recovery directory (its -r): partitions are created there when it has none.",
)
@click.option(
    "--recovery-partitions",
    type=click.IntRange(1, 1024),
    default=1,
    show_default=True,
    help="Recovery partitions to create (fixed once created; any number of workers can use them).",
)
@click.option("--skip", multiple=True, type=click.Choice(STEPS), help="Leave a step out (repeatable).")
def init(
    config_files: tuple[Path, ...],
    partitions: int,
    replication_factor: int,
    recovery_dir: Path | None,
    recovery_partitions: int,
    skip: tuple[str, ...],
) -> None:
    """Create what a fresh deployment lacks: database schema, crops bucket, topics, flow recovery."""
    from telemetry import logs

    try:
        settings = load_settings(*config_files)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    logs.configure(settings.log)

    def recovery(directory: Path) -> str:
        if init_recovery(directory, recovery_partitions):
            return f"recovery: created {recovery_partitions} partition(s) in {directory}"
        count = len(list(directory.glob(RECOVERY_GLOB)))
        return f"recovery: kept the {count} partition(s) in {directory}"

    steps: dict[str, Callable[[], str]] = {
        "database": lambda: migrate_database(settings),
        "bucket": lambda: create_bucket(settings),
        "topics": lambda: create_topics(settings, partitions, replication_factor),
    }
    if recovery_dir is not None:
        steps["recovery"] = lambda: recovery(recovery_dir)
    for name, step in steps.items():
        if name in skip:
            continue
        try:
            click.echo(step())
        except InitError as exc:
            raise click.ClickException(str(exc)) from exc
