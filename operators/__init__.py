"""Pure logic of the plates dataflow: no I/O, no clock, no framework runtime.

- :mod:`operators.records`: the typed, frozen records passed between steps (Avro at the edges).
- :mod:`operators.best_shot`: per-track crop buffer and character voting over OCR reads.
- :mod:`operators.normalise`: canonical plate text, positional OCR-confusion fixes, distance.
- :mod:`operators.plate_formats` / :mod:`operators.validate`: format presets, region guess.
- :mod:`operators.dedup`: fuzzy merge of plate events within a time window.
- :mod:`operators.watchlist`: exact / regex / fuzzy watchlist index.

Time is always injected (event time from the records, or a ``now`` argument).
"""
