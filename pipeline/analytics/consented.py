"""Which samples the analytics may use: only those stored under a consent that covers what
is computed from them (``docs/privacy.md``, "Consent"). Sessions, load and the class
summary are made from a wearer's samples in her spans of live-class consent; morning
readings from her spans of morning-HRV consent — consent at the time of the sample *and*
now (:func:`gympulse.pipeline.consent.consent_periods`). A sample stored under morning-only
consent feeds her morning readings and nothing else."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from gympulse.pipeline.consent import Period

if TYPE_CHECKING:
    import polars as pl

__all__ = ["within"]


def within(samples: pl.DataFrame, periods: Mapping[int, Sequence[Period]] | None) -> pl.DataFrame:
    """Pure: the rows of ``samples`` (``athlete_id``, ``ts``) that lie in their athlete's
    spans; ``periods`` None (no consent rules): all of them. Rows of nobody are dropped
    (nothing of nobody is analysed either way)."""
    import polars as pl

    if periods is None or samples.is_empty():
        return samples
    spans = pl.DataFrame(
        [(a, lo, hi) for a, found in periods.items() for lo, hi in found],
        schema={"athlete_id": pl.Int64, "_from": pl.Int64, "_to": pl.Int64},
        orient="row",
    )
    key = samples.schema["athlete_id"]
    spans = spans.with_columns(pl.col("athlete_id").cast(key))
    # Spans of one athlete never overlap (they come from one ordered history), so the
    # inner join repeats no sample.
    return (
        samples.join(spans, on="athlete_id", how="inner")
        .filter((pl.col("ts") >= pl.col("_from")) & (pl.col("ts") < pl.col("_to")))
        .drop("_from", "_to")
    )
