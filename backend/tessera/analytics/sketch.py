"""Times to redeem as mergeable histograms: logarithmic buckets, each at most 1% wide around its
representative value (the DDSketch mapping), so a median or p90 read from any sum of buckets is
within 1% of the exact figure, and buckets from rollups and from raw events simply add up."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import msgspec

RELATIVE_ACCURACY = 0.01
_GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
LOG_GAMMA = math.log(_GAMMA)
ZERO_BUCKET = 0  # times under one second (a coupon redeemed the moment it was issued)


def bucket_of(seconds: float) -> int:
    if seconds < 1:
        return ZERO_BUCKET
    return max(1, math.ceil(math.log(seconds) / LOG_GAMMA))


def value_of(bucket: int) -> float:
    """The value every time in ``bucket`` is counted as: within 1% of each of them."""
    if bucket == ZERO_BUCKET:
        return 0.0
    return 2 * _GAMMA**bucket / (_GAMMA + 1)


def percentiles(histogram: Mapping[int, int], fractions: Sequence[float]) -> list[float | None]:
    """For each of ``fractions``: linear interpolation between closest ranks, as PostgreSQL's
    ``percentile_cont`` does, over the buckets' values; buckets with no (or a negative, net of
    voids) count are ignored. Rounded to the second. One sorted pass serves every fraction (a
    report row asks for its median and p90 together)."""
    total = sum(count for count in histogram.values() if count > 0)
    if total == 0:
        return [None] * len(fractions)
    positions = [(total - 1) * fraction for fraction in fractions]
    ranks = sorted({rank for position in positions for rank in (math.floor(position), math.ceil(position))})
    value_at: dict[int, float] = {}
    seen, next_rank = 0, 0
    for bucket in sorted(histogram):  # sorting the keys alone is several times faster than items
        count = histogram[bucket]
        if count <= 0:
            continue
        seen += count
        while next_rank < len(ranks) and ranks[next_rank] < seen:
            value_at[ranks[next_rank]] = value_of(bucket)
            next_rank += 1
        if next_rank == len(ranks):
            break
    answers: list[float | None] = []
    for position in positions:
        low_rank = math.floor(position)
        low, high = value_at[low_rank], value_at[math.ceil(position)]
        answers.append(float(round(low + (high - low) * (position - low_rank))))
    return answers


def percentile(histogram: Mapping[int, int], fraction: float) -> float | None:
    (answer,) = percentiles(histogram, (fraction,))
    return answer


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(dict[int, int])


def pack(histogram: Mapping[int, int]) -> bytes:
    """The non-zero buckets of ``histogram``, for storage."""
    return _encoder.encode({bucket: count for bucket, count in histogram.items() if count})


def unpack(packed: bytes) -> dict[int, int]:
    return _decoder.decode(packed)
