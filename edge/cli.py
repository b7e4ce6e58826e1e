"""``alpr edge``: run the cameras of a config file, print a live status line, stop cleanly on signals."""

from __future__ import annotations

import logging
import signal
import sys

import click

from config.load import ConfigError, load_settings

log = logging.getLogger(__name__)


@click.command("edge")
@click.option(
    "--config",
    "config_paths",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="YAML file(s) merged over config/default.yaml (repeatable), e.g. config/cameras.yaml.",
)
@click.option("--no-status", is_flag=True, help="Do not print the per-camera status line.")
def edge(config_paths: tuple[str, ...], no_status: bool) -> None:
    """Read cameras, detect and track plates, publish the best crops to Kafka."""
    from config.load import DEFAULT_CONFIG
    from edge.classify import ClassifierError
    from edge.detect import DetectorError
    from edge.node import CameraView, EdgeNode
    from edge.publish import PublisherError

    try:
        settings = load_settings(DEFAULT_CONFIG, *config_paths)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if not settings.edge.cameras:
        raise click.ClickException(
            "no cameras configured (edge.cameras is empty); pass --config config/cameras.yaml"
        )
    try:
        node = EdgeNode(settings)
    except (DetectorError, ClassifierError) as exc:
        raise click.ClickException(str(exc)) from exc
    if settings.metrics.enabled:
        from prometheus_client import start_http_server

        start_http_server(
            settings.metrics.edge_port, addr=settings.metrics.host, registry=node.metrics.registry
        )
    try:
        node.start()
    except PublisherError as exc:
        raise click.ClickException(str(exc)) from exc

    def on_signal(signum: int, _frame: object) -> None:
        log.warning("edge: %s received, flushing and stopping", signal.Signals(signum).name)
        node.stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    tty = sys.stderr.isatty()

    def status(views: list[CameraView]) -> None:
        if no_status:
            return
        text = " | ".join(v.line() for v in views)
        spool = node.publisher.spool
        text += f" | spool={spool.depth}"
        click.echo(("\r\x1b[2K" + text) if tty else text, err=True, nl=not tty)

    node.wait(status, settings.edge.status_interval_s)
    drained = node.close()
    if tty and not no_status:
        click.echo("", err=True)
    c = node.publisher.counters
    click.echo(
        f"edge: done; queued={c.queued} delivered={c.delivered} dropped={c.dropped} "
        f"errors={c.delivery_errors + c.encode_errors} spool_left={node.publisher.spool.depth}",
        err=True,
    )
    if not drained:
        sys.exit(3)
