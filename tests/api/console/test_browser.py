"""The console in a real browser (Debian's headless Chromium driven by Playwright) against the real
API, PostgreSQL, S3, broker and the real plates flow fed with the crops the edge cuts from the
sample clip.

The tests run in order and share one scenario: sign in; create a watchlist with the clip's plate;
feed the clip's crops through the flow and see the hit appear live (within 1 s of its row being
stored); search; open the event; correct the read; redeliver the alert; hostile strings stay text;
the live page survives a server restart without duplicates; erase the plate. With
``ALPR_CONSOLE_SCREENSHOTS=1`` the screenshots of every page go to ``docs/console/``.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from config.settings import Settings
from tests.api.conftest import Keys, insert_event
from tests.api.console.server import ConsoleServer

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[3]
CLIP_CROPS = Path(__file__).with_name("clip_crops")
CLIP_PLATE = "LZW9715"  # what the flow reads on the sample clip (README, `alpr eval video`)
HOSTILE = '<img src=x onerror="alert(1)">"><script>alert(2)</script>'
WAIT_MS = 60_000


def _shots_dir(tmp: Path) -> Path:
    if os.environ.get("ALPR_CONSOLE_SCREENSHOTS") == "1":
        out = ROOT / "docs" / "console"
        out.mkdir(parents=True, exist_ok=True)
        return out
    return tmp


def snap(page: Any, folder: Path, name: str, **options: Any) -> None:
    """A screenshot; for docs/console/ made small (256-colour PNG) with Pillow when it is there."""
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), **options)
    if os.environ.get("ALPR_CONSOLE_SCREENSHOTS") == "1":
        try:
            from PIL import Image
        except ImportError:
            return
        with Image.open(path) as image:
            image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


class Guard:
    """Fails the test on any alert() (a hostile string that ran) or CSP violation in the page."""

    def __init__(self) -> None:
        self.alerts: list[str] = []
        self.csp: list[str] = []

    def attach(self, page: Any) -> Any:
        page.on("dialog", self._dialog)
        page.on("console", lambda msg: self.csp.append(msg.text) if "Content Security Policy" in msg.text else None)
        return page

    def _dialog(self, dialog: Any) -> None:
        if dialog.type == "confirm":
            dialog.accept()  # the console's own "are you sure?" prompts
        else:
            self.alerts.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

    def check(self) -> None:
        assert not self.alerts, f"script ran in the page: {self.alerts}"
        assert not self.csp, f"CSP violations: {self.csp}"


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _shots_dir(tmp_path_factory.mktemp("shots"))


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any] | None]:
    """A real Prometheus scraping an edge-style metrics endpoint every second (None without the binary)."""
    import subprocess

    from prometheus_client import start_http_server

    from edge.metrics import EdgeMetrics
    from services.prometheus import prometheus_binary
    from tests.api.console.server import free_port

    binary = prometheus_binary()
    if binary is None:
        yield None
        return
    metrics = EdgeMetrics()
    exporter_port, prom_port = free_port(), free_port()
    server, thread = start_http_server(exporter_port, addr="127.0.0.1", registry=metrics.registry)
    folder = tmp_path_factory.mktemp("prometheus")
    (folder / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: edge\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{exporter_port}']\n"
    )
    proc = subprocess.Popen(
        [
            str(binary),
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{prom_port}", metrics
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        server.shutdown()


@pytest.fixture(scope="module")
def console(api_settings: Settings, prometheus: tuple[str, Any] | None) -> Iterator[ConsoleServer]:
    console_settings = api_settings.api.console.model_copy(
        update={"prometheus_url": prometheus[0] if prometheus else None, "camera_stale_s": 30.0}
    )
    settings = api_settings.model_copy(
        update={"api": api_settings.api.model_copy(update={"console": console_settings})}
    )
    server = ConsoleServer(settings).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        pytest.skip("Debian's chromium is not installed (scripts/install-system-deps.sh with test deps)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def guard() -> Guard:
    return Guard()


def _sign_in(browser: Any, guard: Guard, url: str, token: str, **context: Any) -> Any:
    ctx = browser.new_context(**{"viewport": {"width": 1360, "height": 900}, **context})
    page = guard.attach(ctx.new_page())
    page.goto(f"{url}/console/live")
    assert "/console/login" in page.url
    page.get_by_label("API key").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/live")
    return page


@pytest.fixture(scope="module")
def admin_page(browser: Any, guard: Guard, console: ConsoleServer, keys: Keys) -> Iterator[Any]:
    page = _sign_in(browser, guard, console.url, keys.admin)
    yield page
    page.context.close()


@pytest.fixture(scope="module")
def state() -> dict[str, Any]:
    """What the scenario's steps hand on to later ones."""
    return {}


# --- the flow, fed with the sample clip's crops --------------------------------------------


def clip_crops(camera: str, start: datetime) -> list[Any]:
    """The edge's crops of the sample clip (``clip_crops/``) as a new pass of ``camera`` at ``start``."""
    from operators.records import Box, PlateCrop

    meta = json.loads((CLIP_CROPS / "crops.json").read_text())["crops"]
    out = []
    for m in meta:
        at = start + timedelta(seconds=m["offset_s"])
        out.append(
            PlateCrop(
                camera_id=camera,
                site="north-gate",
                track_id=f"clip-{camera}",
                crop_id=f"{camera}:clip-{camera}:{m['frame_index']}",
                frame_index=m["frame_index"],
                frame_ts=at,
                published_ts=at + timedelta(milliseconds=30),
                bbox=Box(*m["bbox"]),
                frame_width=m["frame_size"][0],
                frame_height=m["frame_size"][1],
                det_confidence=m["det_confidence"],
                quality=m["quality"],
                sharpness=m["sharpness"],
                image=(CLIP_CROPS / m["file"]).read_bytes(),
            )
        )
    return out


def run_flow_on_clip(flow_settings: Settings, camera: str, folder: Path) -> Any:
    """Produce the clip's crops for ``camera``; run the real flow over them in its own process.

    Its own process, as in production: OCR in the test process would compete with the API
    server's thread for the GIL and the live latency would measure that.
    """
    import subprocess
    import sys

    from tests.flows import flow_env

    enc = flow_env.crop_encoder(flow_settings)
    crops = clip_crops(camera, datetime.now(UTC) - timedelta(seconds=10))
    flow_env.produce(flow_settings, [(c.camera_id, enc.encode(c.to_avro())) for c in crops])
    config = flow_env.write_config(flow_settings, folder / "flow.yaml")
    return subprocess.Popen(
        [sys.executable, "-m", "bytewax.run", "flows.plates"],
        cwd=ROOT,
        env={**os.environ, "ALPR_CONFIG": str(config)},
        stdout=(folder / "flow.log").open("ab"),
        stderr=subprocess.STDOUT,
    )


@pytest.fixture(scope="module")
def receiver() -> Iterator[Any]:
    from tests.flows import flow_env
    from tests.flows.receiver import AlertReceiver

    with AlertReceiver(flow_env.SECRET) as r:
        yield r


# --- the scenario ---------------------------------------------------------------------------


def test_sign_in_shows_the_live_page(admin_page: Any, guard: Guard, keys: Keys) -> None:
    assert admin_page.get_by_role("heading", name="Live").is_visible()
    admin_page.wait_for_selector("#live-status[data-state='up']")
    assert keys.admin not in admin_page.content()
    cookies = admin_page.context.cookies()
    session = next(c for c in cookies if c["name"] == "alpr_session")
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    guard.check()


def test_watchlist_entry_then_the_clip_hit_shows_live_within_a_second(
    admin_page: Any, guard: Guard, console: ConsoleServer, api_settings: Settings, receiver: Any,
    state: dict[str, Any], shots: Path, prometheus: Any, tmp_path: Path,
) -> None:  # fmt: skip
    from tests.flows import flow_env

    flow_settings = flow_env.flow_settings(api_settings, f"http://127.0.0.1:{receiver.port}")
    state["flow_settings"] = flow_settings
    camera = f"north-gate-{secrets.token_hex(2)}"
    state["camera"] = camera
    if prometheus is not None:
        prometheus[1].camera_up.labels(camera).set(1)
        prometheus[1].camera_up.labels("south-gate").set(0)

    # A watchlist with the clip's plate, made in the browser.
    page = admin_page
    page.goto(f"{console.url}/console/watchlists")
    page.get_by_label("Name", exact=True).fill(f"stolen-{camera}")
    page.get_by_label("Description", exact=True).fill("Reported stolen vehicles")
    page.get_by_label("Severity", exact=True).select_option("high")
    page.get_by_label("Alert channels").fill(", ".join(flow_env.channel_names(flow_settings)))
    page.get_by_role("button", name="Create").click()
    page.wait_for_url("**/console/watchlists/*")
    state["watchlist_url"] = page.url
    page.get_by_label("Plate or pattern").fill(CLIP_PLATE.lower())
    page.get_by_label("Note", exact=True).fill("Case 2026-118: reported stolen at the depot")
    page.get_by_role("button", name="Add entry").click()
    page.wait_for_selector(f"a.plate:text('{CLIP_PLATE}')")
    snap(page, shots, "watchlist", full_page=True)

    # The live page is open; the flow stores the clip's event; its card appears, marked as a hit.
    page.goto(f"{console.url}/console/live?sound=1")
    page.wait_for_selector("#live-status[data-state='up']")
    flow = run_flow_on_clip(flow_settings, camera, tmp_path)
    card = page.wait_for_selector(f"article.event-card.hit[data-camera='{camera}']", timeout=WAIT_MS)
    event_id = (card.get_attribute("id") or "")[3:]
    assert card.inner_text().count(CLIP_PLATE) >= 1
    first_shown_ms = int(card.get_attribute("data-first-shown") or 0)
    with psycopg.connect(api_settings.database.url.get_secret_value()) as conn:
        stored_ms = conn.execute(
            "SELECT extract(epoch FROM min(inserted_at)) * 1000 FROM plate_events WHERE event_id = %s",
            (event_id,),
        ).fetchone()[0]
    latency_ms = first_shown_ms - float(stored_ms)
    state["latency_ms"] = latency_ms
    print(f"live latency: event shown {latency_ms:.0f} ms after its row was stored")
    assert latency_ms < 1000, f"the event showed {latency_ms:.0f} ms after its row was stored"
    assert "hit" in page.inner_text("#hit-announcer").lower()
    state["event_id"] = event_id
    assert flow.wait(timeout=120) == 0, "the flow failed"
    assert receiver.wait_for(2, timeout=30), "the alert was not delivered on both channels"
    page.wait_for_timeout(300)  # let the crop thumbnails load for the picture
    snap(page, shots, "live")
    guard.check()


def test_search_wildcard_and_open_the_event(
    admin_page: Any, guard: Guard, console: ConsoleServer, state: dict, shots: Path
) -> None:
    page = admin_page
    page.goto(f"{console.url}/console/search")
    page.get_by_label("Plate", exact=True).fill("LZW*")
    page.get_by_label("Match", exact=True).select_option("wildcard")
    page.get_by_role("button", name="Search").click()
    page.wait_for_selector("#results-title")
    row_link = page.locator(f"a.plate[href='/console/events/{state['event_id']}']")
    assert row_link.count() == 1
    page.wait_for_function("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    snap(page, shots, "search")
    csv_link = page.get_by_role("link", name="Export CSV")
    with page.expect_download() as download:
        csv_link.click()
    text = Path(download.value.path()).read_text()
    assert text.startswith("event_id,") and state["event_id"] in text

    row_link.click()
    page.wait_for_url(f"**/console/events/{state['event_id']}")
    assert page.locator("img[alt^='Best crop']").evaluate("i => i.naturalWidth") > 0
    facts = page.inner_text("dl.facts-table")
    assert "Raw read" in facts and "Confidence" in facts and "Sightings" in facts
    alerts = page.inner_text("section:has(#alerts-title)")
    assert "delivered" in alerts and "stolen-" in alerts
    snap(page, shots, "event", full_page=True)
    page.get_by_role("link", name=CLIP_PLATE).first.click()
    page.wait_for_url(f"**/console/plates/{CLIP_PLATE}")
    assert page.locator("ol.timeline li").count() >= 1 and "On watchlists" in page.content()
    snap(page, shots, "plate", full_page=True)
    guard.check()


def test_correct_the_read_and_search_finds_both(
    admin_page: Any, guard: Guard, console: ConsoleServer, state: dict
) -> None:
    page = admin_page
    page.goto(f"{console.url}/console/events/{state['event_id']}")
    page.get_by_label("Correct plate").fill("LZW9716")
    page.get_by_label("Reason", exact=True).fill("last digit misread")
    page.get_by_role("button", name="Save correction").click()
    page.wait_for_selector("p.flash:text('Correction saved')")
    history = page.inner_text("section:has(#corr-title)")
    assert "LZW9715 → LZW9716" in history and "last digit misread" in history
    for plate in ("LZW9716", CLIP_PLATE):
        page.goto(f"{console.url}/console/search?plate={plate}")
        assert page.locator(f"a.plate[href='/console/events/{state['event_id']}']").count() == 1, plate
    guard.check()


def test_redeliver_an_alert(
    admin_page: Any, guard: Guard, console: ConsoleServer, state: dict, receiver: Any, shots: Path
) -> None:
    from alerts.outbox import AlertDispatcher

    page = admin_page
    page.goto(f"{console.url}/console/alerts?plate={CLIP_PLATE}")
    row = page.locator("tbody tr").first
    assert "delivered" in row.inner_text()
    snap(page, shots, "alerts")
    before = len(receiver.deliveries)
    row.get_by_role("button", name="Redeliver").click()
    page.wait_for_selector("p.flash:text('Queued for redelivery')")
    assert "pending" in page.locator("tbody tr").first.inner_text()
    s = state["flow_settings"]
    with AlertDispatcher(s.database.url.get_secret_value(), s.flow.alerts) as dispatcher:
        dispatcher.wake()
        assert receiver.wait_for(before + 2, timeout=30), "redelivered alert not received on both channels"
    page.reload()
    assert "pending" not in page.locator("tbody tr").first.inner_text()
    guard.check()


def test_hostile_strings_stay_text(
    admin_page: Any, guard: Guard, console: ConsoleServer, db: Any, state: dict, shots: Path
) -> None:
    page = admin_page
    now = datetime.now(UTC)
    insert_event(db, plate="XSS1", camera_id=HOSTILE, site=HOSTILE, first_seen=now, plate_raw=HOSTILE)
    page.goto(state["watchlist_url"])
    page.get_by_label("Plate or pattern").fill("HOST1LE")
    page.get_by_label("Note", exact=True).fill(HOSTILE)
    page.get_by_role("button", name="Add entry").click()
    page.wait_for_selector("p.flash:text('Entry added')")
    assert HOSTILE in page.inner_text("table")
    # A CSV with a hostile note imports as text; a bad line is reported with its number.
    page.get_by_label("or paste it").fill(
        f'pattern,match_type,note\nAB12CD,exact,"{HOSTILE.replace(chr(34), chr(34) * 2)}"\n(,regex,x\n'
    )
    page.get_by_role("button", name="Import").click()
    errors = page.inner_text(".import-errors")
    assert "line 3" in errors and "regular expression" in errors
    page.get_by_label("or paste it").fill(f'pattern,note\nAB12CD,"{HOSTILE.replace(chr(34), chr(34) * 2)}"\n')
    page.get_by_role("button", name="Import").click()
    page.wait_for_selector("p.flash:text('Imported')")
    page.goto(f"{console.url}/console/search?plate=XSS1")
    assert HOSTILE in page.inner_text("table")
    page.goto(f"{console.url}/console/live")
    assert HOSTILE in page.inner_text("#live-events")
    page.goto(f"{console.url}/console/cameras")
    assert HOSTILE in page.inner_text("table")
    assert page.locator("img[src='x']").count() == 0 and page.locator("script:not([src])").count() == 0
    guard.check()


def test_live_page_survives_a_server_restart_without_duplicates(
    admin_page: Any, guard: Guard, console: ConsoleServer, db: Any, state: dict
) -> None:
    page = admin_page
    page.goto(f"{console.url}/console/live")
    page.wait_for_selector("#live-status[data-state='up']")
    before = page.eval_on_selector_all("article.event-card", "els => els.map(e => e.id)")
    console.restart()
    first = insert_event(db, plate="RST1", camera_id=state["camera"], first_seen=datetime.now(UTC))
    page.wait_for_selector(f"#ev-{first}", timeout=30_000)
    page.wait_for_selector("#live-status[data-state='up']")
    second = insert_event(db, plate="RST2", camera_id=state["camera"], first_seen=datetime.now(UTC))
    page.wait_for_selector(f"#ev-{second}", timeout=10_000)
    after = page.eval_on_selector_all("article.event-card", "els => els.map(e => e.id)")
    assert len(after) == len(set(after)), "an event shows twice"
    assert set(before) <= set(after) and {f"ev-{first}", f"ev-{second}"} <= set(after)
    guard.check()


def test_pages_for_the_record(
    admin_page: Any, guard: Guard, browser: Any, console: ConsoleServer, keys: Keys, shots: Path, prometheus: Any
) -> None:
    page = admin_page
    page.goto(f"{console.url}/console/cameras")
    if prometheus is not None:
        deadline = time.monotonic() + 20
        while page.locator(".badge.up").count() == 0 and time.monotonic() < deadline:
            page.wait_for_timeout(500)
            page.reload()
        assert page.locator(".badge.up").count() >= 1 and page.locator(".badge.down").count() >= 1
    snap(page, shots, "cameras")
    page.goto(f"{console.url}/console/watchlists")
    snap(page, shots, "watchlists")
    # A phone, in dark mode.
    phone = guard.attach(
        _sign_in(
            browser,
            guard,
            console.url,
            keys.read,
            viewport={"width": 390, "height": 844},
            color_scheme="dark",
            device_scale_factor=1,
            is_mobile=True,
            has_touch=True,
        )
    )
    phone.wait_for_selector("#live-status[data-state='up']")
    assert phone.get_by_role("link", name="Admin").count() == 0  # a read key sees no admin page
    phone.wait_for_timeout(300)
    snap(phone, shots, "live-phone-dark")
    phone.goto(f"{console.url}/console/watchlists")
    assert phone.locator("form[action='/console/watchlists']").count() == 0
    phone.context.close()
    login = browser.new_context(viewport={"width": 1000, "height": 600})
    lp = login.new_page()
    lp.goto(f"{console.url}/console/login")
    snap(lp, shots, "login")
    login.close()
    guard.check()


def test_erase_a_plate(
    admin_page: Any, guard: Guard, console: ConsoleServer, db: Any, state: dict, shots: Path
) -> None:
    page = admin_page
    page.goto(f"{console.url}/console/admin")
    page.get_by_label("New key name").fill(f"gate-tablet-{secrets.token_hex(2)}")
    page.get_by_role("button", name="Create key").click()
    token = page.inner_text("#new-token")
    assert token.startswith("alpr_")
    page.goto(f"{console.url}/console/admin")
    assert token not in page.content()  # shown once
    page.get_by_label("Plate", exact=True).fill("LZW9716")
    page.get_by_label("Type the plate again").fill("LZW9716")
    page.get_by_label("Reason (request reference)").fill("request 42")
    page.get_by_role("button", name="Erase").click()
    page.wait_for_selector("#report")
    assert "events" in page.inner_text("#report")
    snap(page, shots, "admin")
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log WHERE action = 'erase' ORDER BY id DESC LIMIT 1")]
    assert actions == ["erase"]
    page.goto(f"{console.url}/console/search?plate={CLIP_PLATE}")
    assert page.locator(f"a.plate[href='/console/events/{state['event_id']}']").count() == 0
    guard.check()
