"""Settings of the plates dataflow (`python -m bytewax.run flows.plates`).

Owned by the flow; extended as the flow grows. Every model forbids unknown keys.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AlertChannel(_Strict):
    """One alert destination: a signed JSON webhook, Slack, or a notification service through apprise."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", description="Name used in watchlists' channels.")
    type: Literal["webhook", "slack", "email", "teams", "telegram", "ntfy", "mqtt"] = Field(
        description="webhook: signed JSON POST; slack: Block Kit message; email, teams, telegram, ntfy, "
        "mqtt: sent by apprise to the apprise URL in url (mailto://, workflows://, tgram://, ntfy://, mqtt://)."
    )
    url: str = Field(
        pattern=r"^(https?|mailtos?|workflows?|tgram|ntfys?|mqtts?)://",
        description="Endpoint URL (webhook, slack: http or https) or the apprise URL of the service.",
    )
    api_base: str | None = Field(
        None,
        pattern=r"^https?://",
        description="telegram: the Bot API server (default https://api.telegram.org), e.g. a self-hosted one.",
    )
    secret: SecretStr | None = Field(
        None, description="HMAC-SHA256 key of the X-ALPR-Signature header (webhook: required)."
    )
    timeout_s: float = Field(5.0, gt=0, le=60, description="Connect + read timeout of one attempt.")

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> AlertChannel:
        if self.type == "webhook" and (self.secret is None or not self.secret.get_secret_value()):
            raise ValueError(f"alert channel {self.name!r}: a webhook channel needs a secret")
        schemes = {
            "webhook": ("http", "https"), "slack": ("http", "https"), "email": ("mailto", "mailtos"),
            "teams": ("workflow", "workflows"), "telegram": ("tgram",), "ntfy": ("ntfy", "ntfys"),
            "mqtt": ("mqtt", "mqtts"),
        }  # fmt: skip
        scheme = self.url.split("://", 1)[0]
        if scheme not in schemes[self.type]:
            raise ValueError(
                f"alert channel {self.name!r}: a {self.type} channel needs a {'/'.join(schemes[self.type])}:// URL"
            )
        return self


class AlertSettings(_Strict):
    """Delivery of watchlist alerts: channels and the retry policy shared by all of them."""

    channels: tuple[AlertChannel, ...] = Field((), description="Named channels; watchlists refer to them by name.")
    default_channels: tuple[str, ...] = Field(
        (), description="Channels of a watchlist that names none (empty: such hits are stored, not sent)."
    )
    max_attempts: int = Field(40, ge=1, le=1000, description="Attempts per delivery before it fails.")
    max_retry_s: float = Field(
        180.0, ge=0, le=86400, description="A delivery fails when undelivered this long after its alert."
    )
    backoff_initial_s: float = Field(0.5, gt=0, le=600, description="Wait before the first retry.")
    backoff_max_s: float = Field(10.0, gt=0, le=3600, description="Longest wait between two attempts.")
    backoff_jitter: float = Field(0.25, ge=0, le=1, description="Each wait is scaled by 1 +- this fraction.")
    workers: int = Field(4, ge=1, le=64, description="Concurrent deliveries per flow process.")
    poll_s: float = Field(0.5, gt=0, le=60, description="How often pending deliveries are checked (retries).")
    image_link_s: int = Field(
        7 * 86400,
        ge=60,
        le=7 * 86400,
        description="Alerts link the plate image by a URL presigned for s3.public_endpoint, valid this long "
        "(S3 allows 7 days at most).",
    )

    @model_validator(mode="after")
    def _channels_known(self) -> AlertSettings:
        names = [c.name for c in self.channels]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"alert channel names must be unique, duplicated: {dupes}")
        unknown = sorted(set(self.default_channels) - set(names))
        if unknown:
            raise ValueError(f"default_channels names unknown channels: {unknown}")
        return self


class WatchlistSettings(_Strict):
    """Watchlists are read from PostgreSQL and reloaded without a restart."""

    reload_s: float = Field(5.0, gt=0, le=3600, description="How often the tables are checked for changes.")


_TEMPLATE_RE = re.compile(r"(?:[LNCAKD](?:\{\d+(?:,\d+)?\})?)+")


class BestShotSettings(_Strict):
    """Best-shot buffering and voting of each track's crops (operators.best_shot)."""

    keep_crops: int = Field(5, ge=1, le=64, description="Best crops kept per track for OCR and voting.")
    align_off_by_one: bool = Field(
        True, description="Reads one character longer or shorter than the voted length still vote, aligned."
    )


class PlateFormat(_Strict):
    """A site-specific plate format, matched against the normalised plate (A-Z, 0-9 only).

    Give ``regex`` (a Python regular expression matched against the whole plate) or
    ``template``: one class letter per character, ``L`` letter, ``N`` digit, ``C`` consonant,
    ``A`` either, optionally repeated ``{m}`` or ``{m,n}``, e.g. ``LLLN{3,4}``; OCR confusions
    (O/0, I/1, ...) are only fixed by position for templates.
    """

    name: str = Field(min_length=1, description="Name of the format, stored with each read.")
    region: str | None = Field(None, description="Region this format belongs to, e.g. 'US-CA', 'DE'.")
    regex: str | None = Field(None, description="Regular expression matched against the whole plate.")
    template: str | None = Field(None, description="Per-character classes, e.g. 'LLLN{3,4}'.")

    @model_validator(mode="after")
    def _one_valid_pattern(self) -> PlateFormat:
        if (self.regex is None) == (self.template is None):
            raise ValueError(f"plate format {self.name!r}: give exactly one of regex or template")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                msg = f"plate format {self.name!r}: regex {self.regex!r} does not compile: {exc}"
                raise ValueError(msg) from exc
        if self.template is not None and _TEMPLATE_RE.fullmatch(self.template) is None:
            raise ValueError(
                f"plate format {self.name!r}: template {self.template!r} must be class letters L, N, C, A, K, D "
                "each optionally followed by {m} or {m,n}"
            )
        return self


def _default_to_digit() -> dict[str, str]:
    pairs = ("O0", "Q0", "D0", "U0", "I1", "L1", "J1", "Z2", "S5", "G6", "B8")
    return {p[0]: p[1] for p in pairs}


def _default_region_glyphs() -> dict[str, dict[str, str]]:
    # US plates print O and 0 with one glyph (most states issue no letter O) and US records and the
    # openalpr US labels write 0, words of vanity plates included (IDAH0HI, CHICAG0): on our
    # us-plates-ocr train+val split, 25 reads gained and none lost (docs/accuracy.md).
    return {"US": {"O": "0"}}


def _default_to_letter() -> dict[str, str]:
    pairs = ("0O", "1I", "2Z", "4A", "5S", "6G", "7T", "8B")
    return {p[0]: p[1] for p in pairs}


class PlateScope(_Strict):
    """The plate formats of one site or camera: the presets of the countries it sees."""

    presets: tuple[str, ...] = Field(
        min_length=1,
        description="Plate format presets for this site's or camera's crops, instead of flow.plates.presets "
        "(custom_formats still apply), e.g. [US] or [DE, NL].",
    )
    default_region: str | None = Field(
        None,
        description="This site's or camera's own country or region (NL, US-CA), instead of "
        "flow.plates.default_region: its formats weigh as 95% of the traffic in a read's region guess.",
    )


class PlateRulesSettings(_Strict):
    """Normalising and validating voted reads (operators.normalise, operators.validate)."""

    presets: tuple[str, ...] = Field(
        ("US", "EU", "BR", "PK"),
        description="Plate format presets: 'US' (states + generic), 'US-CA'..., 'EU' (every European "
        "preset), 'DE', 'FR', 'ES', 'IT', 'NL', 'GB', 'PL', 'BE', 'PT', 'AT', 'CH', 'SE', 'BR', 'PK'.",
    )
    sites: dict[str, PlateScope] = Field(
        default_factory=dict,
        description="Per site (the edge's `site`, stamped on each crop): the presets its crops are decoded "
        "and validated under, instead of `presets`. One flow can serve sites in several countries.",
    )
    cameras: dict[str, PlateScope] = Field(
        default_factory=dict,
        description="Per camera id: the presets of that camera's crops; a camera's entry wins over its site's.",
    )
    custom_formats: tuple[PlateFormat, ...] = Field((), description="Site formats; they win over presets.")
    default_region: str | None = Field(
        None,
        description="The sites' own country or region (NL, US-CA): its formats weigh as 95% of the traffic when "
        "the region of a read is guessed, and it is the region of reads that fit it and others without a clear "
        "majority (operators.region_prior).",
    )
    region_min_share: float = Field(
        0.6,
        ge=0.5,
        le=1,
        description="Share of the formats' weight (vehicles that carry them) that one country needs, among the "
        "enabled formats that hold a read, to be its region (operators.region_prior); below it the region is "
        "default_region when that country holds the read, else null.",
    )
    learn_region: bool = Field(
        True,
        description="Learn each site's mix of countries from its own reads (those one country's formats clearly "
        "hold) and weigh the region of its next reads by it (operators.traffic_mix), and by the European band "
        "seen in each read's best crop (operators.plate_band); a site or camera whose default_region is set is "
        "not learned. Off: world-wide weights only.",
    )
    region_band: bool = Field(
        True,
        description="Look for the band EU plates carry at their left in each read's best crop and weigh the "
        "countries by it (operators.plate_band), where the site's mix is learned. Off: the string and the "
        "site's mix only (e.g. where plates with a blue left band of their own are common: Alaska's "
        "anniversary series; or name the site's country with default_region).",
    )
    min_confidence: float = Field(0.0, ge=0, le=1, description="Voted reads below this are rejected.")
    min_length: int = Field(2, ge=1, le=20, description="Plates shorter than this are rejected.")
    max_length: int = Field(10, ge=1, le=20, description="Plates longer than this are rejected.")
    max_fixes: int = Field(
        2,
        ge=0,
        le=8,
        description="Most OCR confusions fixed by position in one plate (only when ocr.syntax "
        "is off: decoded reads already weighed each character's evidence).",
    )
    to_digit: dict[str, str] = Field(
        default_factory=_default_to_digit, description="Letter read where a format wants a digit -> digit."
    )
    to_letter: dict[str, str] = Field(
        default_factory=_default_to_letter, description="Digit read where a format wants a letter -> letter."
    )
    confusion_cost: float = Field(
        0.5, ge=0, le=1, description="Edit cost of a confusable pair (O/0, I/1, B/8...) in dedup, watchlists."
    )
    region_glyphs: dict[str, dict[str, str]] = Field(
        default_factory=_default_region_glyphs,
        description="Per country (US) or region (US-CA), characters written as another where the matched "
        "format allows either a letter or a digit (US: O as 0, one glyph on the plate).",
    )

    @model_validator(mode="after")
    def _rules_are_consistent(self) -> PlateRulesSettings:
        if self.min_length > self.max_length:
            raise ValueError(f"min_length {self.min_length} is above max_length {self.max_length}")
        letters, digits = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), frozenset("0123456789")
        checks = (
            ("to_digit", self.to_digit, letters, digits),
            ("to_letter", self.to_letter, digits, letters),
        )
        for key, rules, src, dst in checks:
            for a, b in rules.items():
                if a not in src or b not in dst:
                    kinds = "a letter A-Z to a digit" if key == "to_digit" else "a digit to a letter A-Z"
                    raise ValueError(f"{key}: rule {a!r} -> {b!r} must map {kinds}")
        for region, glyphs in self.region_glyphs.items():
            for a, b in glyphs.items():
                if a not in letters | digits or b not in letters | digits:
                    raise ValueError(
                        f"region_glyphs.{region}: rule {a!r} -> {b!r} must map one A-Z/0-9 character to another"
                    )
        return self


class DedupSettings(_Strict):
    """Fuzzy de-duplication of plate events (operators.dedup); the window is flow.dedup_window_s."""

    by: Literal["camera", "site"] = Field("camera", description="Events merge within a camera, or a site.")
    max_distance: float = Field(
        1.0, ge=0, le=4, description="Confusion-aware edit distance at most which two plates are one vehicle."
    )
    max_events: int = Field(1000, ge=1, le=100_000, description="Recent events kept per key at most.")


class FlowInputSettings(_Strict):
    """The flow's Kafka input (the crops topic)."""

    batch_size: int = Field(1000, ge=1, le=100_000, description="Messages taken per poll of a partition.")
    fetch_wait_ms: int = Field(
        500,
        ge=0,
        le=5000,
        description="Longest time the broker holds a fetch waiting for data. Tansu on S3 answers shorter "
        "fetches of long partitions with nothing (10 ms consumed nothing): keep it at 100 or more.",
    )
    stall_alarm_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="A partition with lag that consumes nothing this long logs a warning, counts "
        "alpr_flow_consumer_stalls_total and reopens its consumer with a longer fetch wait.",
    )
    stop_at_end: bool = Field(
        False, description="Stop at the end of every partition (replays, tests) instead of tailing."
    )
    registry_retry_s: float = Field(
        30.0, ge=0, le=3600, description="Keep retrying an unreachable schema registry this long per message."
    )


class ProvisionalSettings(_Strict):
    """An early read of an open track, for low alert latency; the final read supersedes it."""

    enabled: bool = Field(True, description="Emit one provisional read per track before it closes.")
    min_crops: int = Field(3, ge=1, le=100, description="... once the track holds this many crops,")
    min_quality: float = Field(
        0.8, ge=0, le=1, description="... or as soon as one crop reaches this quality, whichever comes first."
    )
    publish: Literal["hits", "all"] = Field(
        "hits",
        description=(
            "Which provisional reads become events: 'hits' = only those matching a watchlist (they exist "
            "for alert latency; every track's final read follows), 'all' = every one (early events in the "
            "DB and on Kafka, about twice the downstream work)."
        ),
    )


class FlowSettings(_Strict):
    """The plates dataflow."""

    track_idle_s: float = Field(2.0, gt=0, le=600, description="A track closes after this idle gap (event time).")
    track_max_s: float = Field(30.0, gt=0, le=3600, description="A track closes after this duration at most.")
    dedup_window_s: float = Field(300.0, ge=0, le=86400, description="Reads this close in time may merge.")
    erasures_poll_s: float = Field(
        5.0, gt=0, le=3600, description="How often the erasures table is read (erased plates leave dedup state)."
    )
    crop_retry_s: float = Field(
        10.0, gt=0, le=3600, description="How often crops that failed to upload are retried from PostgreSQL."
    )
    alerts: AlertSettings = Field(default_factory=AlertSettings, description="Watchlist alert delivery.")
    watchlists: WatchlistSettings = Field(default_factory=WatchlistSettings, description="Watchlist loading.")
    input: FlowInputSettings = Field(default_factory=FlowInputSettings, description="Kafka input of crops.")
    provisional: ProvisionalSettings = Field(
        default_factory=ProvisionalSettings, description="Early provisional reads of open tracks."
    )
    best_shot: BestShotSettings = Field(default_factory=BestShotSettings, description="Best-shot voting.")
    plates: PlateRulesSettings = Field(default_factory=PlateRulesSettings, description="Normalise, validate.")
    dedup: DedupSettings = Field(default_factory=DedupSettings, description="Fuzzy de-duplication.")
