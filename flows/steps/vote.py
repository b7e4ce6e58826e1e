"""The ``vote`` step: each track's reads -> one plate read, validated (or a rejected read).

Per track, :func:`operators.best_shot.vote_track` votes the OCR reads of its best crops into
one :class:`~operators.records.TrackRead`, and :class:`~operators.validate.PlateValidator`
turns that into a :class:`~operators.records.PlateRead` or a
:class:`~operators.records.RejectedRead` (the flow branches the two apart). With ``keep``
(``flow.provisional.publish: hits``, :func:`flows.steps.watchlist.hits_only`) only the reads it
accepts go on.
"""

from __future__ import annotations

from collections.abc import Callable

from flows import metrics
from flows.steps.ocr import TrackReads
from operators.best_shot import vote_track
from operators.records import PlateRead, RejectedRead, TrackRead

Validate = Callable[[TrackRead], PlateRead | RejectedRead]
Keep = Callable[[PlateRead | RejectedRead], bool]


class Vote:
    """``op.flat_map_batch`` mapper: ``[(key, TrackReads)] -> [PlateRead | RejectedRead]``.

    Counts valid reads (``alpr_flow_step_items{step="validate"}``), rejected ones by reason and,
    with ``keep``, the reads held back (``step="provisional_held"``).
    """

    def __init__(self, validate: Validate, *, align: bool = True, keep: Keep | None = None) -> None:
        self._validate = validate
        self._align = align
        self._keep = keep
        self._valid = metrics.STEP_ITEMS.labels("validate")
        self._held = metrics.STEP_ITEMS.labels("provisional_held")

    def vote(self, item: TrackReads) -> TrackRead:
        """The track's reads voted into one read (:func:`operators.best_shot.vote_track`)."""
        return vote_track(item.track.buffer, item.reads, provisional=item.track.provisional, align=self._align)

    def __call__(self, items: list[tuple[str, TrackReads]]) -> list[PlateRead | RejectedRead]:
        validate, vote = self._validate, self.vote
        out = [validate(vote(reads)) for _, reads in items]
        if self._keep is not None:
            n = len(out)
            out = [r for r in out if self._keep(r)]
            self._held.inc(n - len(out))
        n_valid = 0
        for r in out:
            if type(r) is PlateRead:  # noqa: E721
                n_valid += 1
            else:
                metrics.REJECTED_READS.labels(r.reason).inc()
        self._valid.inc(n_valid)
        return out
