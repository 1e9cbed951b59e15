"""Apple passes built per second against bare PKCS#7 signatures per second, in the same run.

The baseline signs the same manifest.json with the same preloaded key through cryptography's
PKCS#7 builder and does nothing else; the ratio says how much of the signing rate pass
building keeps (target: at least 0.5). Development certificates are made in a temp folder.

    python scripts/bench_passes.py [--seconds 5] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from tessera.settings import DEVELOPMENT_PASS_TYPE, DEVELOPMENT_TEAM, REPOSITORY
from tessera.wallet.apple.dev_certificates import make_development_certificates
from tessera.wallet.apple.pass_builder import ApplePassBuilder, PassContent
from tessera.wallet.apple.signing import PassSigner

TEMPLATE = REPOSITORY / "wallet_templates" / "apple" / "coupon.pass"


def content(serial: int) -> PassContent:
    return PassContent(
        serial_number=str(serial),
        authentication_token="t" * 43,
        web_service_url="https://coupons.example.com/wallet/apple",
        description="20% off everything",
        organization_name="Tessera",
        logo_text="Tessera",
        title="Spring sale",
        discount_text="20% off",
        expires_at=datetime(2026, 6, 8, 12, 0, tzinfo=UTC),
        status="active",
        barcode_message=f"TSR1:A:ABCD2345EFGH{serial % 1000:03d}",
        barcode_alt_text="ABCD-2345-EFGH",
        terms="One per visit",
        locations=((47.4979, 19.0402, "Budapest store"),),
        texts={"de": {"title": "Frühlingsrabatt"}},
    )


def rate(work: Callable[[int], object], seconds: float) -> tuple[float, int]:
    """Operations per second of ``work`` over about ``seconds`` (after a short warm-up)."""
    for index in range(20):
        work(index)
    done = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(50):
            work(done)
            done += 1
    return done / elapsed, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per side")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        certificates = make_development_certificates(Path(folder), DEVELOPMENT_PASS_TYPE, DEVELOPMENT_TEAM)
        signer = PassSigner(certificates.cert_path, certificates.key_path, certificates.wwdr_path)
        builder = ApplePassBuilder(TEMPLATE, signer, DEVELOPMENT_PASS_TYPE, DEVELOPMENT_TEAM, "Tessera")
        sample = builder.build(content(0))
        with zipfile.ZipFile(io.BytesIO(sample)) as archive:
            manifest = archive.read("manifest.json")
        baseline, baseline_count = rate(lambda _: signer.sign(manifest), args.seconds)
        built, built_count = rate(lambda serial: builder.build(content(serial)), args.seconds)
    result = {
        "passes_per_second": round(built, 1),
        "passes": built_count,
        "bare_signatures_per_second": round(baseline, 1),
        "signatures": baseline_count,
        "ratio": round(built / baseline, 3),
        "target_ratio": 0.5,
        "pass_bytes": len(sample),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"bare PKCS#7 signatures : {baseline:8.1f} /s  ({baseline_count} in {args.seconds:.0f} s)")
    print(f"passes built           : {built:8.1f} /s  ({built_count}, {len(sample)} bytes each)")
    print(f"ratio                  : {built / baseline:8.3f}   (target >= 0.5)")


if __name__ == "__main__":
    main()
