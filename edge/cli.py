"""``alpr edge``: run the cameras of a config file, report their status, stop cleanly on signals.

On a terminal the per-camera status is a live line rewritten every ``edge.status_interval_s``; in
logs (stderr not a terminal: containers, services) it is one ``edge.status`` record every
``edge.status_log_s``.
"""

from __future__ import annotations

import logging
import signal
import sys
import time

import click

from config.load import ConfigError, load_settings

log = logging.getLogger(__name__)
status_log = logging.getLogger("edge.status")


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
    from telemetry import logs

    try:
        settings = load_settings(DEFAULT_CONFIG, *config_paths)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    logs.configure(settings.log)
    if not settings.edge.cameras:
        raise click.ClickException("no cameras configured (edge.cameras is empty); pass --config config/cameras.yaml")
    try:
        node = EdgeNode(settings)
    except (DetectorError, ClassifierError) as exc:
        raise click.ClickException(str(exc)) from exc
    if settings.metrics.enabled:
        from telemetry.metrics import serve

        serve(settings.metrics.host, settings.metrics.edge_port, node.metrics.registry)
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
    every_s = settings.edge.status_log_s
    last_logged = time.monotonic()

    def status(views: list[CameraView]) -> None:
        nonlocal last_logged
        if no_status:
            return
        text = " | ".join(v.line() for v in views) + f" | spool={node.publisher.spool.depth}"
        if tty:
            click.echo("\r\x1b[2K" + text, err=True, nl=False)
        elif every_s > 0 and time.monotonic() - last_logged >= every_s:
            last_logged = time.monotonic()
            status_log.info("%s", text)

    node.wait(status, settings.edge.status_interval_s)
    drained = node.close()
    if tty and not no_status:
        click.echo("", err=True)
    c = node.publisher.counters
    log.info(
        "edge: done; queued=%d delivered=%d dropped=%d errors=%d spool_left=%d",
        c.queued,
        c.delivered,
        c.dropped,
        c.delivery_errors + c.encode_errors,
        node.publisher.spool.depth,
    )
    if not drained:
        sys.exit(3)
