"""Erasure (`alpr erase`, POST /admin/erase) and retention per class, on the real DB and S3."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from click.testing import CliRunner

from alpr.cli import cli
from api.privacy import apply_retention, plate_digest
from api.storage import CropImages
from config.api import RetentionSettings
from tests.api.conftest import insert_alert, insert_event
from tests.waiting import wait_until


def config_file(tmp_path, settings) -> str:
    """A settings YAML pointing the CLI at the test database and S3."""
    path = tmp_path / "alpr.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "database": {"url": settings.database.url.get_secret_value()},
                "s3": {"endpoint": settings.s3.endpoint, "bucket": settings.s3.bucket},
                "kafka": {"bootstrap_servers": settings.kafka.bootstrap_servers},
            }
        )
    )
    return str(path)


def put_crop(images: CropImages, key: str) -> None:
    data = b"\xff\xd8crop"
    images.client.put_object(images.bucket, key, io.BytesIO(data), len(data), content_type="image/jpeg")


def test_plate_digest_is_keyed_when_a_secret_is_set():
    assert plate_digest("ab-12", None) == plate_digest("AB12", None)
    assert plate_digest("AB12", None).startswith("sha256:")
    keyed = plate_digest("AB12", b"k1")
    assert keyed.startswith("hmac-sha256:") and keyed != plate_digest("AB12", b"k2")


def _rows_naming(db, plate: str) -> dict[str, int]:
    return {
        "plate_events": db.execute("SELECT count(*) FROM plate_events WHERE plate = %s", (plate,)).fetchone()[0],
        "rejected_reads": db.execute(
            "SELECT count(*) FROM rejected_reads WHERE plate_raw ILIKE %s", (f"%{plate[:2]}%{plate[-2:]}%",)
        ).fetchone()[0],
        "alerts": db.execute("SELECT count(*) FROM alerts WHERE plate = %s", (plate,)).fetchone()[0],
        "plate_dictionary": db.execute("SELECT count(*) FROM plate_dictionary WHERE plate = %s", (plate,)).fetchone()[
            0
        ],
        "audit_log": db.execute(
            "SELECT count(*) FROM audit_log WHERE details::text LIKE %s", (f"%{plate}%",)
        ).fetchone()[0],
    }


@pytest.mark.integration
def test_alpr_erase_leaves_no_row_and_no_object(tmp_path, db, reader, api_settings):
    images = CropImages(api_settings.s3)
    plate = "ER" + uuid.uuid4().hex[:5].upper()
    cam = f"erase-{plate}"
    keys = [f"crops/2026/11/22/{cam}/{uuid.uuid4()}.jpg" for _ in range(3)]
    for key in keys:
        put_crop(images, key)
    t = datetime(2026, 11, 22, 9, tzinfo=UTC)
    e1 = insert_event(db, plate=plate, camera_id=cam, first_seen=t, crop_key=keys[0])
    insert_event(db, plate=plate, camera_id=cam, first_seen=t + timedelta(hours=1), crop_key=keys[1])
    other = insert_event(db, plate="KEEP" + plate[2:], camera_id=cam, first_seen=t)
    db.execute(
        "INSERT INTO rejected_reads (observed_at, site, camera_id, track_id, plate_raw, reason, confidence,"
        " crop_key) VALUES (%s, 's', %s, 't', %s, 'low_confidence', 0.2, %s)",
        (t, cam, f"{plate[:2]}-{plate[2:].lower()}", keys[2]),
    )
    wl = db.execute("INSERT INTO watchlists (name) VALUES (%s) RETURNING id", (cam,)).fetchone()[0]
    insert_alert(
        db,
        event_id=e1,
        watchlist_id=wl,
        plate=plate,
        camera_id=cam,
        observed_at=t,
        channels={"webhook": "delivered"},
    )
    assert reader.get("/events", params={"plate": plate}).status_code == 200  # an audited search naming it
    wait_until(lambda: _rows_naming(db, plate)["audit_log"] == 1, "the search's audit row")
    before = {"plate_events": 2, "rejected_reads": 1, "alerts": 1, "plate_dictionary": 1, "audit_log": 1}
    assert _rows_naming(db, plate) == before

    result = CliRunner().invoke(
        cli,
        ["erase", plate, "--yes", "--reason", "ticket 42", "--config", config_file(tmp_path, api_settings)],
    )
    assert result.exit_code == 0, result.output

    after = {"plate_events": 0, "rejected_reads": 0, "alerts": 0, "plate_dictionary": 0, "audit_log": 0}
    assert _rows_naming(db, plate) == after
    assert [k for k in keys if images.exists(k)] == []
    assert db.execute("SELECT count(*) FROM plate_events WHERE event_id = %s", (other,)).fetchone()[0] == 1
    assert db.execute("SELECT days FROM plate_dictionary WHERE plate = %s", ("KEEP" + plate[2:],)).fetchone() == (
        [t.date()],
    )
    digest = plate_digest(plate, None)
    record = db.execute(
        "SELECT actor, events, rejected_reads, alerts, objects, audit_redacted, reason"
        " FROM erasures WHERE plate_digest = %s",
        (digest,),
    ).fetchone()
    assert record[0].startswith("cli:") and record[1:] == (2, 1, 1, 3, 1, "ticket 42")
    audit = db.execute(
        "SELECT actor, details FROM audit_log WHERE action = 'erase' AND details->>'plate_digest' = %s",
        (digest,),
    ).fetchone()
    assert audit is not None and audit[1]["events"] == 2


@pytest.mark.integration
def test_admin_erase_endpoint(db, admin, reader, keys):
    plate = "EA" + uuid.uuid4().hex[:5].upper()
    insert_event(db, plate=plate, camera_id="erase-api", first_seen=datetime(2026, 11, 22, tzinfo=UTC))
    assert reader.post("/admin/erase", json={"plate": plate}).status_code == 403
    response = admin.post("/admin/erase", json={"plate": plate.lower(), "reason": "GDPR art. 17"})
    assert response.status_code == 200, response.text
    assert response.json()["events"] == 1 and plate not in response.text
    assert reader.get("/events", params={"plate": plate}).json()["items"] == []
    trail = admin.get("/admin/audit", params={"action": "erase", "actor": keys.admin_name}).json()
    assert trail[0]["details"]["plate_digest"] == plate_digest(plate, None)
    assert admin.post("/admin/erase", json={"plate": "--"}).status_code == 422


@pytest.fixture
def private_store(make_database, api_settings):
    """(connection, crop store, URL) of a database and bucket of this test alone (retention deletes)."""
    import psycopg

    from config.settings import S3Settings

    bucket = f"ret-{uuid.uuid4().hex[:10]}"
    images = CropImages(
        S3Settings(**{**api_settings.s3.model_dump(), "secret_key": api_settings.s3.secret_key, "bucket": bucket})
    )
    images.client.make_bucket(bucket)
    url = make_database()
    with psycopg.connect(url, autocommit=True) as conn:
        yield conn, images, url


@pytest.mark.integration
def test_retention_per_class(private_store):
    db, images, _ = private_store
    now = datetime.now(UTC)
    cam = f"ret-{uuid.uuid4().hex[:6]}"
    old_key, new_key = (f"crops/ret/{cam}/{uuid.uuid4()}.jpg" for _ in range(2))
    put_crop(images, old_key)
    put_crop(images, new_key)
    old = insert_event(db, plate="RT111AA", camera_id=cam, first_seen=now - timedelta(days=10), crop_key=old_key)
    new = insert_event(db, plate="RT222BB", camera_id=cam, first_seen=now - timedelta(hours=1), crop_key=new_key)
    wl = db.execute("INSERT INTO watchlists (name) VALUES (%s) RETURNING id", (cam,)).fetchone()[0]
    old_alert = insert_alert(
        db,
        event_id=old,
        watchlist_id=wl,
        plate="RT111AA",
        camera_id=cam,
        observed_at=now - timedelta(days=40),
        channels={},
    )
    new_alert = insert_alert(
        db,
        event_id=new,
        watchlist_id=wl,
        plate="RT222BB",
        camera_id=cam,
        observed_at=now - timedelta(days=1),
        channels={},
    )
    db.execute(
        "INSERT INTO audit_log (at, actor, action) VALUES (%s, %s, 'old'), (%s, %s, 'new')",
        (now - timedelta(days=100), cam, now - timedelta(days=1), cam),
    )

    policy = RetentionSettings(images_days=7, watchlist_hits_days=30, audit_days=90)
    report = apply_retention(db, images, policy, reads_days=90, now=now)

    assert report.images >= 1 and report.alerts >= 1 and report.audit >= 1
    assert not images.exists(old_key) and images.exists(new_key)
    crops = dict(db.execute("SELECT event_id, crop_key FROM plate_events WHERE camera_id = %s", (cam,)).fetchall())
    assert crops == {old: None, new: new_key}  # the read stays (90 days), its image goes (7 days)
    alerts = {r[0] for r in db.execute("SELECT alert_id FROM alerts WHERE watchlist_id = %s", (wl,))}
    assert alerts == {new_alert} and old_alert not in alerts
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log WHERE actor = %s", (cam,))]
    assert actions == ["new"]
    assert db.execute("SELECT count(*) FROM audit_log WHERE action = 'retention'").fetchone()[0] >= 1


@pytest.mark.integration
def test_plates_without_a_hit_are_stored_as_keyed_hashes(private_store, api_settings):
    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from api.app import create_app
    from api.keys import create_key
    from api.privacy import erase_plate, hashed_plate
    from config.api import ApiSettings, PrivacySettings

    db, images, url = private_store
    privacy = PrivacySettings(secret=SecretStr("k3y"), hash_plates=True, hash_after_s=3600)
    now = datetime.now(UTC)
    old = now - timedelta(hours=2)
    quiet = insert_event(db, plate="HS111AA", camera_id="h", first_seen=old)
    hit = insert_event(db, plate="HS222BB", camera_id="h", first_seen=old)
    fresh = insert_event(db, plate="HS333CC", camera_id="h", first_seen=now)
    wl = db.execute("INSERT INTO watchlists (name) VALUES ('h') RETURNING id").fetchone()[0]
    insert_alert(db, event_id=hit, watchlist_id=wl, plate="HS222BB", camera_id="h", observed_at=old, channels={})
    db.execute(
        "INSERT INTO rejected_reads (observed_at, site, camera_id, track_id, plate_raw, reason, confidence)"
        " VALUES (%s, 's', 'h', 't', 'hs-111 aa', 'low_confidence', 0.2)",
        (old,),
    )

    report = apply_retention(db, images, RetentionSettings(), reads_days=90, now=now, privacy=privacy)
    assert (report.hashed_events, report.hashed_rejected) == (1, 1)
    stored = dict(db.execute("SELECT event_id, plate FROM plate_events WHERE camera_id = 'h'").fetchall())
    secret = b"k3y"
    assert stored == {quiet: hashed_plate("HS111AA", secret), hit: "HS222BB", fresh: "HS333CC"}
    assert (
        db.execute(
            "SELECT count(*) FROM plate_events WHERE plate LIKE '%%111%%' OR plate_raw LIKE '%%111%%'"
        ).fetchone()[0]
        == 0
    )
    assert db.execute("SELECT plate_raw FROM rejected_reads").fetchone()[0] == hashed_plate("HS111AA", secret)
    dictionary = {
        r[0] for r in db.execute("SELECT plate FROM plate_dictionary WHERE plate LIKE 'HS%%' OR plate LIKE '#%%'")
    }
    assert dictionary == {hashed_plate("HS111AA", secret), "HS222BB", "HS333CC"}  # the plain plate left it
    again = apply_retention(db, images, RetentionSettings(), reads_days=90, now=now, privacy=privacy)
    assert (again.hashed_events, again.hashed_rejected) == (0, 0)

    _, token = create_key(db, "hash-reader", "read")
    database = api_settings.database.model_copy(update={"url": SecretStr(url)})
    settings = api_settings.model_copy(update={"database": database, "api": ApiSettings(privacy=privacy)})
    with TestClient(create_app(settings)) as client:
        found = client.get("/events", params={"plate": "hs 111 aa"}, headers={"X-API-Key": token}).json()
        assert [e["event_id"] for e in found["items"]] == [str(quiet)]

    report = erase_plate(db, images, "HS111AA", actor="test", secret=secret)
    assert (report.events, report.rejected_reads) == (1, 1)
    assert db.execute(
        "SELECT count(*) FROM plate_dictionary WHERE plate = ANY(%s)", (["HS111AA", hashed_plate("HS111AA", secret)],)
    ).fetchone() == (0,)


@pytest.mark.integration
def test_erase_finds_every_object_of_the_plate_by_prefix_and_metadata(db, api_settings):
    # Defect 7 of issue 12: the crop of a pass merged by dedup is referenced by no row (the event
    # keeps one crop) and stayed in S3 after `alpr erase`; so did a crop waiting in crop_retries.
    import dataclasses

    from api.privacy import erase_plate
    from flows.crop_retries import CropRetries
    from flows.sinks.s3 import CropStore
    from tests.flows.sink_records import make_plate_read

    images = CropImages(api_settings.s3)
    store = CropStore(api_settings.s3)
    plate = "ER" + uuid.uuid4().hex[:5].upper()
    cam = f"erase-{plate}"
    first = store.event_from_read(make_plate_read(cam, "pass-1", plate=plate, image=b"\xff\xd8one"))
    second = store.event_from_read(make_plate_read(cam, "pass-2", plate=plate, image=b"\xff\xd8two", first=3))
    merged = dataclasses.replace(first, sightings=2, crop_key=second.crop_key, crop_url=second.crop_url)
    insert_event(db, plate=plate, camera_id=cam, first_seen=merged.first_seen, crop_key=merged.crop_key)
    other = store.event_from_read(make_plate_read(cam, "pass-3", plate="KEEP" + plate[2:], image=b"\xff\xd8x"))
    insert_event(db, plate="KEEP" + plate[2:], camera_id=cam, first_seen=other.first_seen, crop_key=other.crop_key)
    retries = CropRetries(api_settings.database.url.get_secret_value(), poll_s=3600)
    waiting = make_plate_read(cam, "pass-4", plate=plate, image=b"\xff\xd8wait", first=9)
    retries.add(f"crops/waiting/{uuid.uuid4()}.jpg", store.event_from_read(waiting), b"\xff\xd8wait", {}, "s3 down")
    retries.close()
    assert images.exists(first.crop_key) and images.exists(second.crop_key)

    report = erase_plate(db, images, plate, actor="test")

    assert not images.exists(first.crop_key), "the merged pass's crop is still stored"
    assert not images.exists(second.crop_key)
    assert images.exists(other.crop_key)  # another plate's crop on the same camera and day stays
    assert db.execute("SELECT count(*) FROM crop_retries WHERE plate = %s", (plate,)).fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM plate_dictionary WHERE plate = %s", (plate,)).fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM plate_dictionary WHERE plate = %s", ("KEEP" + plate[2:],)).fetchone() == (
        1,
    )
    assert report.objects >= 3
    store.close()


@pytest.mark.parametrize("camera", ["cam-1", "gate/north 2", "../etc", "caméra"])
def test_the_api_finds_crops_where_the_flow_stores_them(camera):
    from api.storage import crop_prefix
    from flows.sinks.s3 import crop_key

    first_seen = datetime(2026, 3, 1, 23, 59, tzinfo=UTC)
    assert crop_key(camera, "E", first_seen).startswith(crop_prefix(camera, first_seen.date()))
