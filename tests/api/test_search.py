"""Event search: the query record and its SQL (pure), then against the real database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.search import Cursor, EventQuery, SearchError, search_sql, similarity_threshold, trigrams
from tests.api.conftest import insert_alert, insert_event
from tests.waiting import wait_until

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"plate": "--"}, "no letters or digits"),
        ({"match": "prefix"}, "needs a plate"),
        ({"plate": "AB1", "match": "sounds"}, "match must be"),
        ({"plate": "AB1", "max_distance": 4}, "max_distance"),
        ({"start": datetime(2026, 1, 1)}, "time zone"),  # noqa: DTZ001 - naive on purpose
        ({"start": T0, "end": T0}, "before end"),
        ({"limit": 0}, "limit"),
    ],
)
def test_invalid_queries_say_what_is_wrong(kwargs, message):
    with pytest.raises(SearchError, match=message):
        EventQuery(**kwargs)


def test_plate_is_normalised_and_every_value_is_a_parameter():
    query = EventQuery(
        plate="ab-12 cd'; DROP TABLE x;--",
        match="prefix",
        camera_ids=("c1",),
        site="s",
        start=T0,
        end=T0 + timedelta(days=1),
        watchlist_hit=True,
    )
    sql, params = search_sql(query)
    assert query.normalised == "AB12CDDROPTABLEX"
    assert params["prefix"] == "AB12CDDROPTABLEX%"
    assert "DROP" not in sql and "c1" not in sql and "'s'" not in sql
    assert params["limit"] == query.limit + 1


def test_cursor_round_trips_and_rejects_garbage():
    cursor = Cursor(T0, uuid.uuid4())
    assert Cursor.decode(cursor.encode()) == cursor
    for bad in ("", "xyz", Cursor(T0, uuid.uuid4()).encode()[:-4] + "!!!!"):
        with pytest.raises(SearchError):
            Cursor.decode(bad)


@pytest.fixture(scope="module")
def seeded(db):
    """Events of one camera set unique to this module; returns (camera prefix, ids by plate)."""
    cam = f"srch-{uuid.uuid4().hex[:6]}"
    ids = {}
    plates = ["AB123CD", "AB123CE", "A8I23CD", "AB999ZZ", "XY555QQ"]
    for i, plate in enumerate(plates):
        ids[plate] = insert_event(
            db,
            plate=plate,
            camera_id=f"{cam}-1" if i % 2 == 0 else f"{cam}-2",
            first_seen=T0 + timedelta(minutes=i),
            region="GB" if i < 3 else "FR",
        )
    # Twelve events of one plate for pagination.
    ids["PAGE"] = [
        insert_event(db, plate="PG100AA", camera_id=f"{cam}-1", first_seen=T0 + timedelta(seconds=s)) for s in range(12)
    ]
    return cam, ids


@pytest.mark.integration
def test_exact_prefix_fuzzy_and_confusion_matching(reader, seeded):
    cam, _ = seeded
    cams = [("camera_id", f"{cam}-1"), ("camera_id", f"{cam}-2")]

    def plates(**params):
        response = reader.get("/events", params=[*cams, *params.items()])
        assert response.status_code == 200, response.text
        return sorted(e["plate"] for e in response.json()["items"])

    assert plates(plate="ab 123 cd") == ["AB123CD"]
    assert plates(plate="AB", match="prefix") == ["AB123CD", "AB123CE", "AB999ZZ"]
    assert plates(plate="AB123CD", match="fuzzy", max_distance=1) == ["AB123CD", "AB123CE"]
    # A8I23CD is two confusions away (B/8, 1/I): distance 1.0 confusion-aware, 2 plain.
    assert plates(plate="AB123CD", match="confusion", max_distance=1) == ["A8I23CD", "AB123CD", "AB123CE"]
    assert plates(plate="AB123CD", match="confusion", max_distance=0) == ["AB123CD"]


@pytest.mark.integration
def test_filters_camera_site_region_time(reader, seeded):
    cam, _ = seeded
    got = reader.get("/events", params={"camera_id": f"{cam}-2", "region": "GB"}).json()["items"]
    assert [e["plate"] for e in got] == ["AB123CE"]
    got = reader.get(
        "/events",
        params=[
            ("camera_id", f"{cam}-1"),
            ("camera_id", f"{cam}-2"),
            ("start", (T0 + timedelta(minutes=3)).isoformat()),
            ("end", (T0 + timedelta(minutes=5)).isoformat()),
        ],
    ).json()["items"]
    assert [e["plate"] for e in got] == ["XY555QQ", "AB999ZZ"]  # newest first
    assert reader.get("/events", params={"camera_id": f"{cam}-1", "site": "elsewhere"}).json()["items"] == []
    naive = reader.get("/events", params={"start": "2026-01-01T00:00:00"})
    assert naive.status_code == 422


@pytest.mark.integration
def test_vehicle_filters_and_fields(reader, db):
    cam = f"veh-{uuid.uuid4().hex[:6]}"
    white_car = insert_event(db, plate="VH100AA", camera_id=cam, first_seen=T0)
    red_truck = insert_event(db, plate="VH200BB", camera_id=cam, first_seen=T0 + timedelta(seconds=1))
    unread = insert_event(db, plate="", camera_id=cam, first_seen=T0 + timedelta(seconds=2))
    for event_id, kind, colour, no_plate in (
        (white_car, "car", "white", False),
        (red_truck, "truck", "red", False),
        (unread, "car", "white", True),
    ):
        db.execute(
            "UPDATE plate_events SET vehicle_type = %s, vehicle_colour = %s, vehicle_bbox = %s, no_plate = %s"
            " WHERE event_id = %s",
            (kind, colour, [1, 2, 300, 200], no_plate, event_id),
        )

    def ids(**params):
        response = reader.get("/events", params={"camera_id": cam, **params})
        assert response.status_code == 200, response.text
        return [uuid.UUID(e["event_id"]) for e in response.json()["items"]]

    assert ids(vehicle_type="truck") == [red_truck]
    assert ids(vehicle_colour="WHITE") == [unread, white_car]
    assert ids(vehicle_colour="white", no_plate="false") == [white_car]
    assert ids(no_plate="true") == [unread]
    (item,) = reader.get("/events", params={"camera_id": cam, "vehicle_type": "truck"}).json()["items"]
    assert (item["vehicle_type"], item["vehicle_colour"], item["vehicle_bbox"], item["no_plate"]) == (
        "truck", "red", [1, 2, 300, 200], False
    )  # fmt: skip
    assert reader.get(f"/events/{red_truck}").json()["vehicle_colour"] == "red"
    assert reader.get("/events", params={"vehicle_type": "x" * 40}).status_code == 422


@pytest.mark.integration
def test_cursor_pagination_visits_every_event_once(reader, seeded):
    _, ids = seeded
    seen, cursor, pages = [], None, 0
    while True:
        params = {"plate": "PG100AA", "limit": 5} | ({"cursor": cursor} if cursor else {})
        body = reader.get("/events", params=params).json()
        seen += [e["event_id"] for e in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(str(i) for i in ids["PAGE"])
    assert reader.get("/events", params={"cursor": "not-a-cursor"}).status_code == 422
    assert reader.get("/events", params={"limit": 501}).status_code == 422  # api.max_page_size


@pytest.mark.integration
def test_watchlist_hit_filter(reader, db, seeded):
    from api import watchlists

    cam, ids = seeded
    wl = watchlists.create(db, f"srch-{cam}")
    insert_alert(
        db,
        event_id=ids["XY555QQ"],
        watchlist_id=wl.id,
        plate="XY555QQ",
        camera_id=f"{cam}-1",
        observed_at=T0,
        channels={"webhook": "delivered"},
    )
    cams = [("camera_id", f"{cam}-1"), ("camera_id", f"{cam}-2")]
    hits = reader.get("/events", params=[*cams, ("watchlist_hit", "true")]).json()["items"]
    assert [e["plate"] for e in hits] == ["XY555QQ"]
    by_list = reader.get("/events", params=[*cams, ("watchlist_id", wl.id)]).json()["items"]
    assert [e["plate"] for e in by_list] == ["XY555QQ"]
    misses = reader.get("/events", params=[*cams, ("watchlist_hit", "false"), ("limit", 100)]).json()["items"]
    assert "XY555QQ" not in {e["plate"] for e in misses} and len(misses) == 16


@pytest.mark.integration
def test_every_search_is_audited(reader, db, keys, seeded):
    marker = f"AUD{uuid.uuid4().hex[:6].upper()}"
    assert reader.get("/events", params={"plate": marker, "match": "prefix"}).status_code == 200
    # Written by the audit writer within api.audit_flush_s (tests/api/test_audit.py: none is lost).
    row = wait_until(
        lambda: db.execute(
            "SELECT actor, action, details FROM audit_log WHERE details->>'plate' = %s", (marker,)
        ).fetchone(),
        "the search's audit row",
    )
    actor, action, details = row
    assert (actor, action, details["match"]) == (keys.read_name, "events.search", "prefix")


@pytest.mark.integration
def test_event_detail_has_a_working_presigned_crop_url(reader, db, api_settings):
    import httpx

    from api.storage import CropImages

    images = CropImages(api_settings.s3)
    key = f"crops/2026/11/20/detail/{uuid.uuid4()}.jpg"
    payload = b"\xff\xd8 fake jpeg bytes"
    import io

    images.client.put_object(images.bucket, key, io.BytesIO(payload), len(payload), content_type="image/jpeg")
    event_id = insert_event(db, plate="DT123AA", camera_id="detail-cam", first_seen=T0, crop_key=key)
    body = reader.get(f"/events/{event_id}").json()
    assert body["plate"] == "DT123AA" and body["alerts"] == []
    assert "X-Amz-Signature" in body["crop_url"] and body["crop_url_expires_s"] == api_settings.s3.presign_seconds
    assert httpx.get(body["crop_url"], timeout=10).content == payload
    assert reader.get(f"/events/{uuid.uuid4()}").status_code == 404


def test_search_rows_are_the_event_model():
    """/events answers the SQL rows without re-validating them: their columns must be the model's."""
    from api.models import Event
    from api.search import EVENT_COLUMNS

    assert [*EVENT_COLUMNS, "distance"] == list(Event.model_fields)


@pytest.mark.integration
def test_search_answer_is_a_valid_event_page(reader, db):
    from api.models import EventPage

    plate = f"VP{uuid.uuid4().hex[:5].upper()}"
    insert_event(db, plate=plate, camera_id="valid-page", first_seen=T0)
    insert_event(db, plate=plate, camera_id="valid-page", first_seen=T0 + timedelta(minutes=1))
    response = reader.get("/events", params={"plate": plate, "limit": 1})
    assert response.headers["content-type"] == "application/json"
    page = EventPage.model_validate_json(response.content)
    assert [e.plate for e in page.items] == [plate] and page.next_cursor
    # Same JSON as the model writes (times in UTC end in Z, ids as text).
    assert EventPage.model_validate(response.json()).model_dump(mode="json") == response.json()


def _similarity(a: str, b: str) -> float:
    """pg_trgm's similarity of two words."""
    x, y = trigrams(a), trigrams(b)
    return len(x & y) / len(x | y)


@given(
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=2, max_size=9),
    st.lists(st.tuples(st.sampled_from(["sub", "ins", "del"]), st.integers(0, 20),
                       st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")), max_size=3),
)  # fmt: skip
def test_similarity_threshold_keeps_every_plate_within_the_distance(plate, edits):
    near = plate
    for kind, at, char in edits:
        at %= len(near) + (kind == "ins")
        if kind == "sub" and near:
            near = near[:at] + char + near[at + 1 :]
        elif kind == "ins":
            near = near[:at] + char + near[at:]
        elif len(near) > 1:
            near = near[:at] + near[at + 1 :]
    query = EventQuery(plate=plate, match="fuzzy", max_distance=len(edits))
    assert _similarity(plate, near) >= similarity_threshold(query)


def test_similarity_threshold_is_tight_for_long_plates():
    assert similarity_threshold(EventQuery(plate="AB12CDE", match="fuzzy", max_distance=1)) > 0.4
    assert similarity_threshold(EventQuery(plate="AB12CDE", match="fuzzy", max_distance=3)) == 0.0


def test_candidates_by_day_keeps_the_days_a_query_can_reach_newest_first():
    from datetime import date

    from api.search import candidates_by_day

    rows = [
        ("AB1", [date(2026, 11, 1), date(2026, 11, 3)], ["c1", "c2"]),
        ("AB2", [date(2026, 11, 2), date(2026, 11, 3)], ["c3"]),
    ]
    everything = candidates_by_day(EventQuery(plate="AB", match="prefix"), rows)
    assert everything.by_day == (
        (date(2026, 11, 3), ("AB1", "AB2")),
        (date(2026, 11, 2), ("AB2",)),
        (date(2026, 11, 1), ("AB1",)),
    )
    assert everything.cameras == {"AB1": ("c1", "c2"), "AB2": ("c3",)}
    # A plate no camera of the query has read is no candidate.
    by_camera = candidates_by_day(EventQuery(plate="AB", match="prefix", camera_ids=("c2", "c9")), rows)
    assert by_camera.by_day == ((date(2026, 11, 3), ("AB1",)), (date(2026, 11, 1), ("AB1",)))
    assert by_camera.cameras == {"AB1": ("c1", "c2")}
    # end is exclusive: a query ending at midnight does not reach that day; start at 23:00 reaches its day.
    window = EventQuery(
        plate="AB", match="prefix", start=datetime(2026, 11, 1, 23, tzinfo=UTC), end=datetime(2026, 11, 3, tzinfo=UTC)
    )
    assert [d for d, _ in candidates_by_day(window, rows).by_day] == [date(2026, 11, 2), date(2026, 11, 1)]
    cursor = Cursor(datetime(2026, 11, 2, 5, tzinfo=UTC), uuid.uuid4())
    paged = candidates_by_day(EventQuery(plate="AB", match="prefix", cursor=cursor), rows)
    assert [d for d, _ in paged.by_day] == [date(2026, 11, 2), date(2026, 11, 1)]


def test_next_days_takes_the_fewest_days_holding_enough_plate_days():
    from datetime import date

    from api.search import next_days

    days = [(date(2026, 11, 30 - i), ("A", "B") if i % 2 else ("A",)) for i in range(6)]
    assert [len(p) for _, p in next_days(days, 1)[0]] == [1]
    batch, rest = next_days(days, 4)
    assert len(batch) == 3 and batch + rest == days
    assert next_days(days, 100) == (days, [])
