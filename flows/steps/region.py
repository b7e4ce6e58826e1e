"""The ``region`` step: each plate read's region guessed under its site's own mix of countries.

Keyed by site, :func:`operators.traffic_mix.learn_region` keeps a
:class:`~operators.traffic_mix.Traffic` per site (the bytewax state: a few counts, snapshotted
with the rest) and re-guesses each read's region with the countries the site's earlier reads
showed and what the read's best crop shows of a European band at the plate's left
(``PlateCrop.band``, seen by the edge; from an older edge, :func:`ocr.band.look_for_band` on the
decoded JPEG, about 0.2 ms a read, where it could change the region). :func:`stream` wires it; the
flow leaves it out where nothing is learned (``flow.plates.learn_region: false``, or every scope
names its ``default_region``).
"""

from __future__ import annotations

import logging
import threading

from bytewax import operators as op
from bytewax.dataflow import Stream

from flows import metrics
from flows.steps.ocr import decode_image
from ocr.band import look_for_band
from operators.plate_band import LOOK_HEIGHT, Band
from operators.records import PlateCrop, PlateRead
from operators.traffic_mix import Traffic, learn_region
from operators.validate import ScopedValidator

log = logging.getLogger(__name__)

#: Sites reported on ``/metrics`` at most (a series each): crops that name ever new sites (a
#: misconfigured edge, forged messages) must not grow the metrics without bound.
MAX_REPORTED_SITES = 1000


def band_of(crop: PlateCrop) -> Band:
    """What a crop shows of a European band: what the edge saw (``crop.band``), or, from an edge
    that did not look, what its JPEG shows (UNKNOWN when it does not decode; a crop twice the
    height looked at or more is decoded at half size, JPEG's own scaling: cheaper)."""
    if crop.band is not None:
        return Band(crop.band)
    return look_for_band(decode_image(crop, half=crop.bbox.h >= 2 * LOOK_HEIGHT))


class Region:
    """``op.stateful_map`` mapper, keyed by site: ``(Traffic | None, PlateRead) -> (Traffic, PlateRead)``.

    Reports each site's leading country (``alpr_flow_site_country_share``, and a log line when it
    changes), for the first :data:`MAX_REPORTED_SITES` sites. The state is a few counts per site.
    """

    def __init__(self, validators: ScopedValidator) -> None:
        self._validators = validators
        self._leaders: dict[str, str] = {}
        self._full = False
        self._lock = threading.Lock()

    @property
    def learns(self) -> bool:
        """Whether any scope learns its sites' mix (else the step is left out)."""
        return self._validators.learns

    def __call__(self, traffic: Traffic | None, read: PlateRead) -> tuple[Traffic | None, PlateRead]:
        band = Band.UNKNOWN  # a provisional read is not looked at: its final read soon is (cost)
        validator = self._validators.validator(read.read.site, read.read.camera_id)
        if read.plate and not read.read.provisional and validator.band_matters(read.plate):
            band = band_of(read.read.best_crop)
            metrics.PLATE_BANDS.labels(band.value).inc()
        new, out = learn_region(self._validators, traffic, read, band)
        if new is not traffic and new is not None:
            self._report(read.read.site, new)
        return new, out

    def _report(self, site: str, traffic: Traffic) -> None:
        leader = traffic.leader()
        if leader is None:
            return
        country, share = leader
        with self._lock:
            before = self._leaders.get(site)
            if before is None and len(self._leaders) >= MAX_REPORTED_SITES:
                if not self._full:
                    self._full = True
                    log.warning(
                        "more than %d sites: the learned mix of further sites is not on /metrics", len(self._leaders)
                    )
                return
            if before != country:
                self._leaders[site] = country
                if before is not None:
                    metrics.SITE_COUNTRY_SHARE.remove(site, before)
                log.info("site %s: most reads are of %s now (%.0f%% of %d)", site, country, 100 * share, traffic.reads)
            metrics.SITE_COUNTRY_SHARE.labels(site, country).set(share)


def stream(step_id: str, reads: Stream[PlateRead], step: Region) -> Stream[PlateRead]:
    """``PlateRead -> PlateRead`` (keyed by site inside): the region under the site's learned mix."""
    if not step.learns:
        return reads
    keyed = op.key_on(f"{step_id}_keys", reads, lambda r: r.read.site)
    return op.key_rm(f"{step_id}_unkey", op.stateful_map(step_id, keyed, step))
