"""Recompute a Tessera contest draw from its public record, with nothing but the standard library.

    python scripts/verify_draw.py https://tessera.example/api/contests/7/draw
    python scripts/verify_draw.py draw.json           # a record saved earlier

The record (``GET /api/contests/{id}/draw``, public) reveals the seed and lists every participant
(pseudonymous id, points, when they reached them) in rank order. The checks, in order:

1. ``SHA-256(seed) == commitment``: the seed is the one committed to when the contest was made
   (compare ``commitment`` with what ``GET /api/contests/{id}`` showed before the draw).
2. The SHA-256 of the canonical list (one line ``<id>\\t<points>\\t<reached_at>\\n`` per
   participant, in rank order) is the published ``participants_digest``.
3. The list is in rank order: points descending, then ``reached_at`` ascending (fixed-width UTC
   times, so they compare as text), then id ascending.
4. The winners are exactly these (algorithm ``tessera-draw-v1``): the top prizes, tier by tier,
   expanded into places by their counts, go to the participants in rank order; everybody else
   is ordered by ``HMAC-SHA256(key=seed, message=id)`` (digest bytes ascending, then id) and
   the consolation prizes go to them in that order.

Prints the recomputed winners; exits 0 when everything matches, 1 (listing what differs) when
not, 2 when the record cannot be read.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

ALGORITHM = "tessera-draw-v1"


def load(source: str) -> dict[str, Any]:
    if source.startswith(("http://", "https://")):
        request = urllib.request.Request(source, headers={"Accept": "application/json"})  # noqa: S310
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            record: dict[str, Any] = json.load(response)
    else:
        record = json.loads(Path(source).read_text(encoding="utf-8"))
    return record


def places(prizes: list[dict[str, Any]]) -> list[str]:
    return [prize["name"] for prize in prizes for _ in range(prize["count"])]


def winners(record: dict[str, Any]) -> list[tuple[str, str, int, str]]:
    """(participant id, tier, place, prize) recomputed from the seed and the list."""
    seed = bytes.fromhex(record["seed"])
    people = sorted(record["participants"], key=lambda p: (-p["points"], p["reached_at"], p["id"]))
    top = places(record["top"])
    found = [
        (p["id"], "top", n, prize) for n, (p, prize) in enumerate(zip(people, top, strict=False), start=1)
    ]
    rest = people[len(top) :]
    rest.sort(key=lambda p: (hmac.new(seed, p["id"].encode(), hashlib.sha256).digest(), p["id"]))
    consolation = places(record["consolation"])
    found += [
        (p["id"], "consolation", n, prize)
        for n, (p, prize) in enumerate(zip(rest, consolation, strict=False), start=1)
    ]
    return found


def problems(record: dict[str, Any]) -> list[str]:
    found: list[str] = []
    if record.get("algorithm") != ALGORITHM:
        return [f"unknown algorithm {record.get('algorithm')!r} (this script checks {ALGORITHM})"]
    if hashlib.sha256(bytes.fromhex(record["seed"])).hexdigest() != record["commitment"]:
        found.append("SHA-256 of the seed is not the commitment")
    people = record["participants"]
    canonical = "".join(f"{p['id']}\t{p['points']}\t{p['reached_at']}\n" for p in people)
    if hashlib.sha256(canonical.encode()).hexdigest() != record["participants_digest"]:
        found.append("the participant list does not match participants_digest")
    if people != sorted(people, key=lambda p: (-p["points"], p["reached_at"], p["id"])):
        found.append("the participant list is not in rank order")
    expected = winners(record)
    published = [(w["id"], w["tier"], w["place"], w["prize"]) for w in record["winners"]]
    if published != expected:
        missing = [w for w in expected if w not in published]
        extra = [w for w in published if w not in expected]
        found.append(f"the published winners differ: missing {missing}, not expected {extra}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("record", help="URL of GET /api/contests/{id}/draw, or a saved JSON file")
    args = parser.parse_args(argv)
    try:
        record = load(args.record)
        expected = winners(record)
        found = problems(record)
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"cannot read the draw record: {error}", file=sys.stderr)
        return 2
    count = len(record["participants"])
    print(f"contest {record.get('contest_id')}: {count} participants, seed {record['seed']}")
    for participant, tier, place, prize in expected:
        print(f"  {tier:<11} {place:>4}  {participant}  {prize}")
    if found:
        for problem in found:
            print(f"MISMATCH: {problem}", file=sys.stderr)
        return 1
    print("OK: the commitment, the participant list and the winners all check out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
