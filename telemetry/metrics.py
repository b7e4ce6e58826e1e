"""Process metrics and build information on a Prometheus registry, and its ``/metrics`` endpoint.

Every process exposes ``process_*`` (CPU, memory, open files, start time), ``python_gc_*``,
``python_info`` and ``alpr_build_info{service, version, revision, python}`` (always 1): the flow
and the API on the default registry (which has the process collectors already), the edge on its
own registry (:func:`add_process_collectors`).
"""

from __future__ import annotations

import logging
import os
import platform
import threading
from importlib import metadata

from prometheus_client import REGISTRY, CollectorRegistry, Gauge, start_http_server
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

log = logging.getLogger(__name__)

__all__ = ["add_process_collectors", "build_info", "serve", "version"]

_lock = threading.Lock()
_info_done: set[int] = set()


#: Latency buckets in seconds, dense below one second (the alert target).
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)


def version() -> str:
    """The installed version of the platform (``unknown`` when it is not installed)."""
    try:
        return metadata.version("alpr-platform")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_info(service: str, registry: CollectorRegistry = REGISTRY) -> None:
    """Register ``alpr_build_info`` (value 1) on ``registry``, once per registry.

    ``revision`` is ``$ALPR_BUILD_REVISION`` (the image sets it from the build's git commit).
    """
    with _lock:
        if id(registry) in _info_done:
            return
        gauge = Gauge(
            "alpr_build_info",
            "Build of the running process (always 1).",
            ["service", "version", "revision", "python"],
            registry=registry,
        )
        gauge.labels(
            service, version(), os.environ.get("ALPR_BUILD_REVISION", "unknown"), platform.python_version()
        ).set(1)
        _info_done.add(id(registry))


def add_process_collectors(registry: CollectorRegistry) -> None:
    """``process_*``, ``python_gc_*`` and ``python_info`` on a registry of our own (the default one has them)."""
    if registry is REGISTRY:
        return
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)


def serve(host: str, port: int, registry: CollectorRegistry = REGISTRY) -> int | None:
    """Serve ``registry`` on ``http://host:port/metrics``; None (logged) when the port is taken.

    Metrics must never stop a process: a port in use is a warning, not an error.
    """
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        log.warning("metrics: cannot listen on %s:%s: %s", host, port, exc)
        return None
    log.info("metrics: serving on http://%s:%s/metrics", host, port)
    return port
