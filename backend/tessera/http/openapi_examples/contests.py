"""Examples of the contest operations: contests, printed codes, entries, the leaderboard and the
draw."""

from __future__ import annotations

from tessera.http.openapi_examples.shapes import CONTEST, DRAW, Examples

CLOSED = {**CONTEST, "status": "closed", "entries_closed_at": "2026-08-31T22:00:00Z"}
BATCH = {
    "id": 9,
    "contest_id": 3,
    "count": 100000,
    "generated": 0,
    "product": "Cola 0.5 l",
    "points": 3,
    "status": "running",
    "created_at": "2026-05-25T10:00:00Z",
    "finished_at": None,
    "progress_url": "/api/contests/3/codes/batches/9",
    "export_url": "/api/contests/3/codes?format=csv&batch_id=9",
}

EXAMPLES: Examples = {
    ("post", "/api/contests"): (
        {
            "kind": "points",
            "name": "Collect the caps",
            "description": "Every cap has a code worth points",
            "starts_at": "2026-06-01T00:00:00Z",
            "ends_at": "2026-08-31T22:00:00Z",
            "timezone": "Europe/Rome",
            "limits": {"per_day": 10},
            "currency": "EUR",
            "prizes": [{"name": "A year of coffee", "count": 1, "value": 36500}],
            "consolation": [{"name": "A mug", "count": 2, "value": 900}],
        },
        {"201": {**CONTEST, "status": "scheduled"}},
    ),
    ("get", "/api/contests"): (None, {"200": {"items": [CONTEST], "next_cursor": None}}),
    ("get", "/api/contests/{contest_id}"): (None, {"200": CONTEST}),
    ("get", "/api/contests/{contest_id}/report"): (
        None,
        {
            "200": {
                "contest": CONTEST,
                "codes": 100000,
                "entries": 5321,
                "participants": 310,
                "wins": 0,
                "spent": 0,
                "max_winners": None,
                "budget": None,
                "prizes": [
                    {"tier": "top", "name": "A year of coffee", "count": 1, "value": 36500, "won": 0},
                    {"tier": "consolation", "name": "A mug", "count": 2, "value": 900, "won": 0},
                ],
            }
        },
    ),
    ("post", "/api/contests/{contest_id}/close"): (None, {"200": CLOSED}),
    ("post", "/api/contests/{contest_id}/draw"): (None, {"200": DRAW}),
    ("get", "/api/contests/{contest_id}/draw"): (None, {"200": DRAW}),
    ("get", "/api/contests/{contest_id}/leaderboard"): (
        None,
        {
            "200": {
                "contest_id": 3,
                "participants": 310,
                "leaders": [
                    {"rank": 1, "participant_id": "YA9F-H7FP-2XQC", "points": 42},
                    {"rank": 2, "participant_id": "7KX3-9QAB-MNPQ", "points": 42},
                ],
                "me": {"rank": 4, "participant_id": "C8WN-3TQH-KV2M", "points": 12, "entries": 4},
            }
        },
    ),
    ("post", "/api/contests/{contest_id}/entries"): (
        {"code": "NR5P-UFE4-GVY3-MUYS"},
        {
            "201": {
                "id": 88,
                "contest_id": 3,
                "result": "counted",
                "participant_id": "C8WN-3TQH-KV2M",
                "product": "Cola 0.5 l",
                "points": 3,
                "total_points": 12,
                "rank": 4,
                "participants": 310,
                "prize": None,
                "submitted_at": "2026-06-03T18:40:00Z",
            }
        },
    ),
    ("post", "/api/contests/{contest_id}/codes"): (
        {"count": 100000, "product": "Cola 0.5 l", "points": 3},
        {"202": BATCH},
    ),
    ("get", "/api/contests/{contest_id}/codes/batches/{batch_id}"): (
        None,
        {"200": {**BATCH, "generated": 100000, "status": "done", "finished_at": "2026-05-25T10:00:09Z"}},
    ),
    ("get", "/api/contests/{contest_id}/codes"): (
        None,
        {
            "200": "code,code_display,qr_payload,serial,batch_id,product,points\n"
            "NR5PUFE4GVY3MUYS,NR5P-UFE4-GVY3-MUYS,TSR1:R:NR5PUFE4GVY3MUYS,0,9,Cola 0.5 l,3\n"
            "F6M5J5WKP967E74D,F6M5-J5WK-P967-E74D,TSR1:R:F6M5J5WKP967E74D,1,9,Cola 0.5 l,3\n"
        },
    ),
}
