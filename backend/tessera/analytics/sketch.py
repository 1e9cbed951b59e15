"""Times to redeem as mergeable histograms: logarithmic buckets, each at most 1% wide around its
representative value (the DDSketch mapping), so a median or p90 read from any sum of buckets is
within 1% of the exact figure, and buckets from rollups and from raw events simply add up."""

from __future__ import annotations

import math
from collections.abc import Mapping

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


def _value_at(counts: list[tuple[int, int]], rank: int) -> float:
    seen = 0
    for bucket, count in counts:
        seen += count
        if rank < seen:
            return value_of(bucket)
    return value_of(counts[-1][0])


def percentile(histogram: Mapping[int, int], fraction: float) -> float | None:
    """Linear interpolation between closest ranks, as PostgreSQL's ``percentile_cont`` does,
    over the buckets' values; buckets with no (or a negative, net of voids) count are ignored.
    Rounded to the second."""
    counts = sorted((bucket, count) for bucket, count in histogram.items() if count > 0)
    total = sum(count for _, count in counts)
    if total == 0:
        return None
    position = (total - 1) * fraction
    low_rank, high_rank = math.floor(position), math.ceil(position)
    low, high = _value_at(counts, low_rank), _value_at(counts, high_rank)
    return float(round(low + (high - low) * (position - low_rank)))


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(dict[int, int])


def pack(histogram: Mapping[int, int]) -> bytes:
    """The non-zero buckets of ``histogram``, for storage."""
    return _encoder.encode({bucket: count for bucket, count in histogram.items() if count})


def unpack(packed: bytes) -> dict[int, int]:
    return _decoder.decode(packed)
