"""Time-to-redeem histograms: percentiles read from buckets, and their 1% accuracy."""

from __future__ import annotations

import math
import statistics

from hypothesis import given
from hypothesis import strategies as st

from tessera.analytics.sketch import (
    RELATIVE_ACCURACY,
    bucket_of,
    pack,
    percentile,
    percentiles,
    unpack,
    value_of,
)

histograms = st.dictionaries(st.integers(0, 1200), st.integers(-3, 40), max_size=60)
fractions = st.lists(st.floats(0, 1), min_size=1, max_size=4)


def interpolated(values: list[float], fraction: float) -> float:
    """PostgreSQL's ``percentile_cont`` over a sorted list, written out plainly."""
    position = (len(values) - 1) * fraction
    low, high = values[math.floor(position)], values[math.ceil(position)]
    return low + (high - low) * (position - math.floor(position))


@given(histograms, fractions)
def test_percentiles_match_the_expanded_buckets(histogram: dict[int, int], wanted: list[float]) -> None:
    values = sorted(value_of(bucket) for bucket, count in histogram.items() for _ in range(max(count, 0)))
    expected = [float(round(interpolated(values, f))) if values else None for f in wanted]
    assert percentiles(histogram, wanted) == expected
    assert [percentile(histogram, f) for f in wanted] == expected


@given(st.lists(st.floats(1, 1e8), min_size=1, max_size=200))
def test_a_median_from_buckets_is_within_one_percent(seconds: list[float]) -> None:
    seconds = seconds[: len(seconds) - (1 - len(seconds) % 2)]  # an odd count: the median is a value
    histogram: dict[int, int] = {}
    for value in seconds:
        histogram[bucket_of(value)] = histogram.get(bucket_of(value), 0) + 1
    exact = statistics.median(seconds)
    (from_buckets,) = percentiles(histogram, [0.5])
    assert from_buckets is not None
    assert abs(from_buckets - exact) <= exact * RELATIVE_ACCURACY + 0.5  # + rounding to the second


@given(histograms)
def test_packing_keeps_the_non_zero_buckets(histogram: dict[int, int]) -> None:
    assert unpack(pack(histogram)) == {bucket: count for bucket, count in histogram.items() if count}
