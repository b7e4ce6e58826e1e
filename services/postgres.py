"""PostgreSQL: the configured server when it answers, else a private cluster in the run dir.

The private cluster (``initdb`` + ``postgres`` from ``/usr/lib/postgresql/15/bin``) listens on
``127.0.0.1:services.ports.postgres`` only (no Unix socket), trusts local connections and preloads
TimescaleDB and pg_cron when they are installed. ``initdb`` refuses to run as root, so as root the
cluster runs as the ``postgres`` OS user; its files are in ``RUN_DIR/postgres``, or, where that OS
user cannot reach the run dir (a run dir under ``/root`` or another private directory), in
``$TMPDIR/alpr-postgres-<hash of the run dir>``. The URL in use is written to ``RUN_DIR/database_url``.

TimescaleDB only works when the server preloads it (``shared_preload_libraries``), which needs a
restart of that server. ``scripts/install-system-deps.sh`` builds it into a PostgreSQL 15 tree of
its own (:func:`timescaledb_bindir`, ``$ALPR_TIMESCALEDB_HOME``), never into the system one. When
that tree exists and the configured server is a loopback one that answers without preloading
TimescaleDB, the stack runs the private cluster from the tree instead, rather than reconfiguring
a server others may use; ``alpr db migrate`` then takes the TimescaleDB path. A configured server
that preloads it, or a remote one, is used as it is.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from config.settings import Settings
from services.apt import apt_install, install_command
from services.base import Health, Skip
from services.process import Launch, ServiceError

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
PG_VERSION = "15"
APT_PACKAGES = (
    f"postgresql-{PG_VERSION}",
    f"postgresql-{PG_VERSION}-partman",
    f"postgresql-{PG_VERSION}-cron",
)
OS_USER = "postgres"


def postgres_bindir() -> Path | None:
    """``/usr/lib/postgresql/15/bin`` (or the newest other version installed)."""
    preferred = Path(f"/usr/lib/postgresql/{PG_VERSION}/bin")
    if (preferred / "initdb").is_file():
        return preferred
    others = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    return others[0].parent if others else None


def reachable_by(user: str, path: Path) -> bool:
    """Whether the OS ``user`` can enter ``path`` and every directory above it (directories not
    made yet count as enterable: the stack makes them ``0o755``)."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return False
    groups = set(os.getgrouplist(user, entry.pw_gid))
    for directory in (path, *path.parents):
        try:
            st = directory.stat()
        except FileNotFoundError:
            continue
        except OSError:
            return False
        if st.st_uid == entry.pw_uid:
            bit = stat.S_IXUSR
        elif st.st_gid in groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


def cluster_dir(run_dir: Path) -> Path:
    """Where the private cluster keeps its files: ``RUN_DIR/postgres``, unless the cluster runs as
    the postgres OS user (we are root) and that user cannot reach the run dir; then a directory of
    its own under the temp dir, named for the run dir (the same run dir finds the same cluster)."""
    run_dir = run_dir.resolve()
    if os.geteuid() != 0 or reachable_by(OS_USER, run_dir):
        return run_dir / "postgres"
    digest = hashlib.sha256(str(run_dir).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"alpr-postgres-{digest}"


def mask_password(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


TIMESCALEDB_HOME = Path("/opt/alpr/postgresql-15-timescaledb")


def timescaledb_bindir() -> Path | None:
    """bin dir of the PostgreSQL 15 tree with TimescaleDB (``$ALPR_TIMESCALEDB_HOME``), if built."""
    home = Path(os.environ.get("ALPR_TIMESCALEDB_HOME") or TIMESCALEDB_HOME)
    bindir = home / "lib" / "postgresql" / PG_VERSION / "bin"
    return bindir if timescaledb_installed(bindir) and (bindir / "initdb").is_file() else None


def timescaledb_installed(bindir: Path | None) -> bool:
    """TimescaleDB's loader library is in the lib dir of the PostgreSQL of ``bindir``."""
    return bindir is not None and (bindir.parent / "lib" / "timescaledb.so").is_file()


def preload_libraries(available: Path | None) -> tuple[str, ...]:
    """What a private cluster of ``available`` (a bindir) preloads: timescaledb, pg_cron when installed."""
    if available is None:
        return ()
    lib = available.parent / "lib"
    return tuple(name for name in ("timescaledb", "pg_cron") if (lib / f"{name}.so").is_file())


def server_preloads(url: str, timeout_s: int = 2) -> tuple[str, ...] | None:
    """The ``shared_preload_libraries`` of the server of ``url``; None when it does not answer."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    try:
        conninfo = make_conninfo(url, dbname="postgres", connect_timeout=timeout_s)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            row = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()
    except (psycopg.Error, OSError):
        return None
    return tuple(lib.strip() for lib in (row[0] if row else "").split(",") if lib.strip())


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("127.0.0.1", "localhost", "::1", "") or host.startswith("/")


def server_probe(url: str, timeout_s: int = 2) -> Health:
    """Connect to the server of ``url`` (its ``postgres`` database) and ask its version."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    try:
        conninfo = make_conninfo(url, dbname="postgres", connect_timeout=timeout_s)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            version = conn.execute("show server_version").fetchone()
    except (psycopg.Error, OSError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Health(False, f"cannot connect: {first_line}")
    return Health(True, f"PostgreSQL {version[0] if version else '?'}")


class Postgres:
    """The configured database server, or a private cluster when it does not answer."""

    name = "postgres"
    depends_on: tuple[str, ...] = ()
    stop_signal = signal.SIGINT  # "fast" shutdown: SIGTERM would wait for every client to leave

    def __init__(self, settings: Settings, run_dir: Path) -> None:
        self._configured = settings.database.url.get_secret_value()
        self._port = settings.services.ports.postgres
        self._dir = cluster_dir(run_dir)
        self._data = self._dir / "data"
        self._url_file = run_dir / "database_url"

    def identity(self) -> str:
        return str(self._data.resolve())

    def private_url(self) -> str:
        """The URL of the private cluster: the configured database name on the private port."""
        dbname = urlsplit(self._configured).path.lstrip("/") or "alpr"
        return f"postgresql://{OS_USER}@{HOST}:{self._port}/{dbname}"

    def effective_url(self) -> str:
        """The URL chosen by the last ``up`` (``RUN_DIR/database_url``), else the configured one."""
        try:
            return self._url_file.read_text().strip() or self._configured
        except FileNotFoundError:
            return self._configured

    def disabled(self) -> str | None:
        return None

    def address(self) -> str:
        return mask_password(self.effective_url())

    def ports(self) -> tuple[int, ...]:
        return (self._port,)

    def _write_url(self, url: str) -> None:
        self._url_file.parent.mkdir(parents=True, exist_ok=True)
        self._url_file.touch(mode=0o600, exist_ok=True)
        self._url_file.write_text(url + "\n")

    def prepare(self) -> Launch | Skip:
        configured = server_probe(self._configured)
        bindir = timescaledb_bindir() or postgres_bindir()
        if configured.ok and not self._wants_timescaledb(bindir):
            self._write_url(self._configured)
            return Skip("configured database.url answers", external=True)
        if configured.ok:
            log.info(
                "postgres: the configured server does not preload timescaledb, which is installed here;"
                " using a private cluster that does"
            )
        else:
            log.info("postgres: configured server does not answer (%s); using a private cluster", configured.detail)
        if bindir is None:
            problem = apt_install(APT_PACKAGES) if os.geteuid() == 0 else "not root"
            bindir = postgres_bindir()
            if bindir is None:
                raise ServiceError(
                    f"configured database does not answer ({configured.detail}) and PostgreSQL "
                    f"binaries are missing ({problem}); install them with: {install_command(APT_PACKAGES)}"
                )
        user = OS_USER if os.geteuid() == 0 else None
        self._initdb(bindir, user)
        self._write_url(self.private_url())
        argv = [
            str(bindir / "postgres"),
            "-D",
            str(self._data.resolve()),
            "-p",
            str(self._port),
            "-c",
            f"listen_addresses={HOST}",
            "-c",
            "unix_socket_directories=",
        ]
        preload = preload_libraries(bindir)
        if preload:
            argv += ["-c", f"shared_preload_libraries={','.join(preload)}"]
        if "pg_cron" in preload:
            argv += ["-c", f"cron.database_name={urlsplit(self.private_url()).path.lstrip('/')}"]
        if "timescaledb" in preload:
            argv += ["-c", "timescaledb.telemetry_level=off"]  # no calls home from a local stack
        return Launch(argv=tuple(argv), cwd=self._dir.resolve(), user=user)

    def _wants_timescaledb(self, bindir: Path | None) -> bool:
        """TimescaleDB is installed here but the (loopback) configured server does not preload it."""
        if not (timescaledb_installed(bindir) and _loopback(self._configured)):
            return False
        preloads = server_preloads(self._configured)
        return preloads is not None and "timescaledb" not in preloads

    def _initdb(self, bindir: Path, user: str | None) -> None:
        if (self._data / "PG_VERSION").is_file():
            return
        self._dir.mkdir(parents=True, exist_ok=True)
        if user is not None:
            entry = pwd.getpwnam(user)
            for path in (self._dir, *(p for p in self._dir.rglob("*"))):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        cmd = [
            str(bindir / "initdb"),
            "-D",
            str(self._data.resolve()),
            "-U",
            OS_USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        ]
        result = subprocess.run(  # noqa: S603
            cmd,
            user=user,
            group=user,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            cwd=self._dir,
        )
        if result.returncode != 0:
            shutil.rmtree(self._data, ignore_errors=True)
            hint = f" (the {user} OS user must be able to reach {self._dir})" if user else ""
            raise ServiceError(f"initdb failed{hint}: {(result.stderr or result.stdout).strip()[-800:]}")

    def probe(self) -> Health:
        health = server_probe(self.effective_url(), timeout_s=1)
        return Health(health.ok, health.detail)

    def after_start(self) -> None:
        """Create the configured database in the private cluster (pg_cron's database must exist)."""
        import psycopg
        from psycopg import sql
        from psycopg.conninfo import make_conninfo

        url = self.effective_url()
        if url != self.private_url():
            return
        dbname = urlsplit(url).path.lstrip("/")
        with psycopg.connect(make_conninfo(url, dbname="postgres", connect_timeout=5), autocommit=True) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", (dbname,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))

    def after_stop(self) -> None:
        """The private cluster is gone: its URL must not be handed out any more."""
        if self.effective_url() == self.private_url():
            self._url_file.unlink(missing_ok=True)
