"""Erasure of a plate everywhere, and retention per class of data.

:func:`erase_plate` deletes a plate's crop objects first, then, in one transaction, its
``plate_events``, ``rejected_reads``, ``alerts`` (with deliveries) and ``crop_retries`` rows,
redacts it from ``audit_log`` details, and records the erasure (``erasures`` + an ``erase``
audit row) with the plate only as a digest. If the object deletion fails nothing is deleted
from the database, so a retry finds every key again.

Objects are found by rows (``crop_key`` of events and rejected reads) and by prefix and
metadata: the crop of a pass that dedup merged into another event is referenced by no row,
so every object under ``crops/<day>/<camera>/`` of the days and cameras (of the same sites)
around the plate's events that no event row references is checked for the plate in its
``x-amz-meta-plate``. The running flow learns of the erasure from the ``erasures`` table
(:mod:`flows.erasures`) and drops the plate from its dedup state. What remains elsewhere
(Kafka topics, recovery snapshots) and for how long: docs/privacy.md.

:func:`apply_retention` applies :class:`config.api.RetentionSettings`: reads through
``alpr_maintain()`` (partitions / chunks), crop images older than ``images_days`` (by event
time in the database and by upload time in the bucket, which also catches crops whose rows
are gone), alerts and audit rows by age. ``now`` is injected.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import psycopg

from api import audit
from api.storage import CropImages, crop_prefix
from config.api import PrivacySettings, RetentionSettings
from operators.erasure import plate_digest
from operators.normalise import compact

if TYPE_CHECKING:
    from config.settings import Settings

log = logging.getLogger(__name__)
ERASED = "[erased]"
__all__ = [
    "ERASED",
    "ErasureReport",
    "RetentionReport",
    "apply_retention",
    "erase_plate",
    "hashed_plate",
    "plate_digest",
]

# compact() in SQL for ASCII text (what OCR engines return for Latin plates).
_SQL_COMPACT = "regexp_replace(upper(plate_raw), '[^A-Z0-9]', '', 'g')"


def hashed_plate(plate: str, secret: bytes) -> str:
    """How a pseudonymised plate is stored: ``#`` + hex HMAC-SHA256 of the normalised plate.

    ``#`` never occurs in a normalised plate, so stored hashes and plates cannot collide; equal
    plates hash equally, so counts, sightings and exact search keep working.
    """
    return "#" + hmac.new(secret, compact(plate).encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """What one erasure removed."""

    plate_digest: str
    events: int
    rejected_reads: int
    alerts: int
    objects: int
    audit_redacted: int

    def to_json(self) -> dict[str, Any]:
        """Plain dict (no plate in it)."""
        return asdict(self)


def erase_plate(
    conn: psycopg.Connection[Any],
    images: CropImages,
    plate: str,
    *,
    actor: str,
    reason: str = "",
    secret: bytes | None = None,
) -> ErasureReport:
    """Remove every read, image and alert of ``plate`` and record the erasure (see module doc)."""
    normalised = compact(plate)
    if not normalised:
        raise ValueError(f"plate {plate!r} has no letters or digits")
    forms = [normalised] + ([hashed_plate(normalised, secret)] if secret else [])
    # Events corrected to (or from) the plate are about it too (operator corrections, 0007).
    corrected = [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT event_id FROM plate_corrections WHERE plate = ANY(%(f)s) OR previous = ANY(%(f)s)",
            {"f": forms},
        ).fetchall()
    ]
    keys = [
        r[0]
        for r in conn.execute(
            "SELECT crop_key FROM plate_events WHERE (plate = ANY(%(forms)s) OR event_id = ANY(%(ids)s))"
            " AND crop_key IS NOT NULL"
            " UNION SELECT crop_key FROM rejected_reads"
            f" WHERE ({_SQL_COMPACT} = %(p)s OR plate_raw = ANY(%(forms)s)) AND crop_key IS NOT NULL",
            {"p": normalised, "forms": forms, "ids": corrected},
        ).fetchall()
    ]
    keys = sorted(set(keys) | _unreferenced_objects(conn, images, normalised, forms, set(keys)))
    objects = images.delete(keys)
    digest = plate_digest(normalised, secret)
    with conn.transaction():
        event_ids = [
            r[0]
            for r in conn.execute(
                "DELETE FROM plate_events WHERE plate = ANY(%s) OR event_id = ANY(%s) RETURNING event_id",
                (forms, corrected),
            ).fetchall()
        ]
        conn.execute(
            "DELETE FROM plate_corrections WHERE event_id = ANY(%s) OR plate = ANY(%s) OR previous = ANY(%s)",
            (event_ids, forms, forms),
        )
        rejected = conn.execute(
            f"DELETE FROM rejected_reads WHERE {_SQL_COMPACT} = %s OR plate_raw = ANY(%s) OR event_id = ANY(%s)",
            (normalised, forms, event_ids),
        ).rowcount
        alerts = conn.execute(
            "DELETE FROM alerts WHERE plate = %s OR event_id = ANY(%s)", (normalised, event_ids)
        ).rowcount
        objects += conn.execute(
            "DELETE FROM crop_retries WHERE plate = ANY(%s) OR event_id = ANY(%s)", (forms, event_ids)
        ).rowcount
        redacted = conn.execute(
            "UPDATE audit_log SET details = jsonb_set(details, '{plate}', to_jsonb(%s::text))"
            " WHERE details->>'plate' = %s",
            (ERASED, normalised),
        ).rowcount
        report = ErasureReport(digest, len(set(event_ids)), rejected, alerts, objects, redacted)
        conn.execute(
            "INSERT INTO erasures (actor, plate_digest, events, rejected_reads, alerts, objects,"
            " audit_redacted,"
            " reason) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (actor, digest, report.events, rejected, alerts, objects, redacted, reason),
        )
        audit.record(conn, actor, "erase", {**report.to_json(), "reason": reason})
    log.info("erased plate %s: %s", digest, report)
    return report


def _unreferenced_objects(
    conn: psycopg.Connection[Any], images: CropImages, plate: str, forms: list[str], known: set[str]
) -> set[str]:
    """Objects of ``plate`` no row references: under the camera/day prefixes around its events
    (a day either side; every camera of the same sites), whose metadata names the plate."""
    rows = conn.execute(
        "SELECT DISTINCT e.camera_id, d::date FROM plate_events p"
        " CROSS JOIN LATERAL generate_series((p.first_seen AT TIME ZONE 'UTC')::date - 1,"
        "                                    (p.last_seen AT TIME ZONE 'UTC')::date + 1, interval '1 day') AS d"
        " JOIN LATERAL (SELECT DISTINCT camera_id FROM plate_events o WHERE o.site = p.site"
        "   AND o.first_seen >= d AND o.first_seen < d + interval '1 day'"
        "   UNION SELECT p.camera_id) e ON true"
        " WHERE p.plate = ANY(%s)",
        (forms,),
    ).fetchall()
    prefixes = {crop_prefix(camera, day) for camera, day in rows}
    candidates: set[str] = set()
    for prefix in sorted(prefixes):
        candidates.update(images.keys_under(prefix))
    candidates -= known
    if not candidates:
        return set()
    referenced = {
        r[0] for r in conn.execute("SELECT crop_key FROM plate_events WHERE crop_key = ANY(%s)", (sorted(candidates),))
    }
    return {k for k in candidates - referenced if compact(images.metadata(k).get("plate", "")) == plate}


def pseudonymise(
    conn: psycopg.Connection[Any], secret: bytes, cutoff: datetime, *, batch: int = 5000
) -> tuple[int, int]:
    """Replace plates seen before ``cutoff`` that hit no watchlist by :func:`hashed_plate`.

    Events with an alert keep their plate (they are why the platform exists); rejected reads
    are all hashed. Returns ``(events, rejected_reads)`` changed. Batched, idempotent.
    """
    no_alert = "NOT EXISTS (SELECT 1 FROM alerts a WHERE a.event_id = e.event_id)"
    events = 0
    while True:
        plates = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT plate FROM plate_events e WHERE first_seen < %s AND plate NOT LIKE '#%%'"
                f" AND {no_alert} LIMIT %s",
                (cutoff, batch),
            )
        ]
        if not plates:
            break
        hashed = [hashed_plate(p, secret) for p in plates]
        changed = conn.execute(
            "UPDATE plate_events e SET plate = d.h, plate_raw = d.h,"
            " plate_hash = decode(substr(d.h, 2), 'hex'),"
            " updated_at = now() FROM unnest(%s::text[], %s::text[]) AS d(p, h)"
            f" WHERE e.plate = d.p AND e.first_seen < %s AND {no_alert}",
            (plates, hashed, cutoff),
        ).rowcount
        events += changed
        if changed == 0 or len(plates) < batch:
            break
    rejected = 0
    while True:
        rows = conn.execute(
            "SELECT id, plate_raw FROM rejected_reads WHERE observed_at < %s AND plate_raw NOT LIKE '#%%' LIMIT %s",
            (cutoff, batch),
        ).fetchall()
        if not rows:
            break
        rejected += conn.execute(
            "UPDATE rejected_reads r SET plate_raw = d.h FROM unnest(%s::bigint[], %s::text[]) AS d(id, h)"
            " WHERE r.id = d.id",
            ([r[0] for r in rows], [hashed_plate(r[1], secret) for r in rows]),
        ).rowcount
        if len(rows) < batch:
            break
    return events, rejected


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """What one retention run removed (or pseudonymised)."""

    maintain: list[str] = field(default_factory=list)
    images: int = 0
    alerts: int = 0
    audit: int = 0
    hashed_events: int = 0
    hashed_rejected: int = 0

    def to_json(self) -> dict[str, Any]:
        """Plain dict."""
        return asdict(self)


def apply_retention(
    conn: psycopg.Connection[Any],
    images: CropImages,
    policy: RetentionSettings,
    *,
    reads_days: int,
    now: datetime,
    actor: str = "retention",
    privacy: PrivacySettings | None = None,
) -> RetentionReport:
    """Apply ``policy`` as of ``now`` (``reads_days`` when ``policy.reads_days`` is unset).

    With ``privacy.hash_plates``, plates older than ``privacy.hash_after_s`` are pseudonymised too.
    """
    if now.tzinfo is None:
        raise ValueError(f"now must carry a time zone, got {now.isoformat()}")
    days = policy.reads_days or reads_days
    maintain = [
        r[0] for r in conn.execute("SELECT * FROM alpr_maintain(make_interval(days => %s), %s)", (days, now)).fetchall()
    ]
    image_cutoff = now - timedelta(days=policy.images_days)
    keys = {
        r[0]
        for r in conn.execute(
            "SELECT crop_key FROM plate_events WHERE first_seen < %(c)s AND crop_key IS NOT NULL"
            " UNION SELECT crop_key FROM rejected_reads WHERE observed_at < %(c)s AND crop_key IS NOT NULL",
            {"c": image_cutoff},
        ).fetchall()
    }
    keys.update(images.older_than(image_cutoff))
    removed = images.delete(keys)
    with conn.transaction():
        conn.execute(
            "UPDATE plate_events SET crop_key = NULL, crop_url = NULL WHERE crop_key = ANY(%s)",
            (sorted(keys),),
        )
        conn.execute("UPDATE rejected_reads SET crop_key = NULL WHERE crop_key = ANY(%s)", (sorted(keys),))
        alerts = conn.execute(
            "DELETE FROM alerts WHERE observed_at < %s", (now - timedelta(days=policy.watchlist_hits_days),)
        ).rowcount
        audit_rows = conn.execute(
            "DELETE FROM audit_log WHERE at < %s", (now - timedelta(days=policy.audit_days),)
        ).rowcount
        hashed = (0, 0)
        if privacy is not None and privacy.hash_plates and privacy.secret is not None:
            cutoff = now - timedelta(seconds=privacy.hash_after_s)
            hashed = pseudonymise(conn, privacy.secret.get_secret_value().encode(), cutoff)
        report = RetentionReport(maintain, removed, alerts, audit_rows, *hashed)
        audit.record(conn, actor, "retention", {**report.to_json(), "reads_days": days, "now": now.isoformat()})
    return report


def erase_configured(
    conn: psycopg.Connection[Any], images: CropImages, settings: Settings, plate: str, *, actor: str, reason: str = ""
) -> ErasureReport:
    """:func:`erase_plate` with the digest key of ``api.privacy.secret`` (the API's and the console's)."""
    secret = settings.api.privacy.secret
    return erase_plate(
        conn,
        images,
        plate,
        actor=actor,
        reason=reason,
        secret=secret.get_secret_value().encode() if secret else None,
    )


def retention_now(
    conn: psycopg.Connection[Any], images: CropImages, settings: Settings, *, actor: str
) -> RetentionReport:
    """:func:`apply_retention` of ``api.retention`` (and ``api.privacy``) as of now."""
    return apply_retention(
        conn,
        images,
        settings.api.retention,
        reads_days=settings.database.reads_retention_days,
        now=datetime.now(UTC),
        actor=actor,
        privacy=settings.api.privacy,
    )
