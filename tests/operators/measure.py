"""Time per call of each plates-flow operator (not a test): ``python -m tests.operators.measure``.

The flow must do >= 20,000 crops/s per worker excluding OCR, so the per-crop cost
(best-shot ``add``) must stay in the low microseconds; the others run once per track.
"""

from __future__ import annotations

import random
import string
import sys
import timeit
from datetime import timedelta

from config.flow import PlateRulesSettings
from operators.best_shot import add, vote
from operators.dedup import DedupRules, dedup
from operators.records import PlateCrop, PlateEvent, PlateRead, WatchlistEntry
from operators.validate import PlateValidator
from operators.watchlist import Watchlist
from tests.operators.builders import T0, make_crop, make_read, make_track_read

ALNUM = string.ascii_uppercase + string.digits


def per_call_us(fn, number: int) -> float:
    """Best of 5 repeats, microseconds per call."""
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def main() -> None:
    rnd = random.Random(7)
    plate = lambda: "".join(rnd.choice(ALNUM) for _ in range(7))  # noqa: E731
    results: dict[str, float] = {}

    crops = [make_crop(n, quality=rnd.random()) for n in range(200)]
    avro = crops[0].to_avro()
    results["PlateCrop.from_avro (validated record)"] = per_call_us(lambda: PlateCrop.from_avro(avro), 20_000)
    state = None
    for c in crops[:5]:
        state = add(state, c, keep=5)
    stream = iter(crops * 10_000)
    results["best_shot.add (keep=5, full buffer)"] = per_call_us(lambda: add(state, next(stream), keep=5), 20_000)

    five = crops[:5]
    reads = [
        make_read(c, t, 0.9) for c, t in zip(five, ["ABC123", "ABC123", "A8C123", "ABC1234", "ABC123"], strict=True)
    ]
    results["best_shot.vote (5 reads)"] = per_call_us(lambda: vote(reads, five), 5_000)

    for presets in (("US",), ("US", "EU", "BR", "PK")):
        name = "+".join(presets)
        v = PlateValidator.from_settings(PlateRulesSettings(presets=presets))
        known = iter([make_track_read(t) for t in ("7abc-123", "ABC 1234", "7ABCI23", "GOLF4U")] * 100_000)
        results[f"normalise+validate {name}, repeated plates"] = per_call_us(
            lambda v=v, c=known: v.validate(next(c)), 5000
        )
        fresh = iter([make_track_read(plate()) for _ in range(30_000)])
        results[f"normalise+validate {name}, new plates"] = per_call_us(lambda v=v, c=fresh: v.validate(next(c)), 5000)

    rules = DedupRules(window_s=300, max_distance=1.0)
    dstate = None
    for i in range(400):
        p = plate()
        read = PlateRead(make_track_read(p, first=i * 0.7, last=i * 0.7 + 1, track_id=f"t{i}"), p, p, "US", "US")
        dstate, last = dedup(dstate, PlateEvent.from_read(read), rules)
    probe = PlateEvent(**{**last.to_avro(), "track_id": "probe", "event_id": PlateEvent.make_id("c", "probe", T0)})
    results[f"dedup ({len(dstate)} recent events)"] = per_call_us(lambda: dedup(dstate, probe, rules), 2_000)

    entries = []
    for i in range(10_000):
        if i % 500 == 0:  # 20 regex entries
            entries.append(WatchlistEntry(i, 1, "w", f"{plate()[:3]}\\d{{4}}", "regex"))
        else:
            kind = "exact" if i % 2 else "fuzzy"
            entries.append(WatchlistEntry(i, 1, "w", plate(), kind, max_distance=1 + (i % 3 == 0)))
    wl = Watchlist(entries)
    plates = iter(["ABC1234", plate(), entries[5].pattern, entries[6].pattern] * 100_000)
    now = T0 + timedelta(days=1)
    results[f"watchlist.match ({len(wl)} entries: 20 regex, fuzzy k=1/2)"] = per_call_us(
        lambda: wl.match(next(plates), now), 2_000
    )
    build = min(timeit.repeat(lambda: Watchlist(entries), number=1, repeat=3))

    width = max(map(len, results))
    for name, us in results.items():
        print(f"{name:<{width}}  {us:8.2f} us/call")
    print(f"{'watchlist build (10k entries)':<{width}}  {build * 1e3:8.1f} ms")
    print(f"python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
