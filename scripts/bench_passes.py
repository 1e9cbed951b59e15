"""Apple passes built per second against bare PKCS#7 signatures per second, in the same run.

The baseline signs the same manifest.json with the same preloaded key through cryptography's
PKCS#7 builder and does nothing else: the floor of any pass build. The ratio says how much of
that rate building keeps (target: at least 0.5). The two alternate over several rounds and the
medians are compared, so a noisy neighbour hurts both alike. Development certificates are made in
a temp folder.

    python scripts/bench_passes.py [--seconds 6] [--passes N] [--rounds 5] [--json] [--check]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from tessera.core.settings import DEVELOPMENT_PASS_TYPE, DEVELOPMENT_TEAM, REPOSITORY
from tessera.wallet.apple.dev_certificates import make_development_certificates
from tessera.wallet.apple.pass_builder import ApplePassBuilder, PassContent
from tessera.wallet.apple.signing import PassSigner

TEMPLATE = REPOSITORY / "wallet_templates" / "apple" / "coupon.pass"
TARGET_RATIO = 0.5


def content(serial: int) -> PassContent:
    """A realistic coupon: a location, a second language, every field filled."""
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
        barcode_message=f"TSR1:A:ABCD2345EF{serial % 100_000:05d}",
        barcode_alt_text=f"ABCD-2345-EF{serial % 100_000:05d}",
        details="On everything in store",
        terms="One per visit",
        locations=((47.4979, 19.0402, "Budapest store"),),
        texts={"de": {"title": "Frühlingsrabatt"}},
    )


def bare_signer(cert_path: Path, key_path: Path, wwdr_path: Path) -> Callable[[bytes], bytes]:
    """cryptography's PKCS#7 signature with the key loaded once, and nothing of Tessera's."""
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    wwdr = x509.load_pem_x509_certificate(wwdr_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    options = [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]

    def sign(manifest: bytes) -> bytes:
        return (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(manifest)
            .add_signer(certificate, key, hashes.SHA256())
            .add_certificate(wwdr)
            .sign(serialization.Encoding.DER, options)
        )

    return sign


def rate(work: Callable[[int], object], *, seconds: float | None, count: int | None, start: int) -> float:
    """Operations per second of ``work``, over ``count`` calls or about ``seconds``."""
    done = 0
    started = time.perf_counter()
    while True:
        work(start + done)
        done += 1
        elapsed = time.perf_counter() - started
        if (count is not None and done >= count) or (count is None and elapsed >= (seconds or 0)):
            return done / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="measuring time per side (all rounds)")
    parser.add_argument("--passes", type=int, help="a fixed number of operations per side instead")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per side")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--check", action="store_true", help=f"exit 1 when the ratio is below {TARGET_RATIO}")
    args = parser.parse_args()
    rounds = max(1, args.rounds)
    count = max(1, args.passes // rounds) if args.passes else None
    seconds = args.seconds / rounds

    with tempfile.TemporaryDirectory() as folder:
        made = make_development_certificates(Path(folder), DEVELOPMENT_PASS_TYPE, DEVELOPMENT_TEAM)
        signer = PassSigner(made.cert_path, made.key_path, made.wwdr_path)
        builder = ApplePassBuilder(TEMPLATE, signer, DEVELOPMENT_PASS_TYPE, DEVELOPMENT_TEAM, "Tessera")
        bare = bare_signer(made.cert_path, made.key_path, made.wwdr_path)
    sample = builder.build(content(0))
    with zipfile.ZipFile(io.BytesIO(sample)) as archive:
        manifest = archive.read("manifest.json")
    for serial in range(50):  # warm-up
        bare(manifest)
        builder.build(content(serial))

    signing_rates: list[float] = []
    building_rates: list[float] = []
    for index in range(rounds):
        signing_rates.append(rate(lambda _: bare(manifest), seconds=seconds, count=count, start=0))
        build = lambda serial: builder.build(content(serial))  # noqa: E731
        building_rates.append(rate(build, seconds=seconds, count=count, start=index << 20))
    signing, building = statistics.median(signing_rates), statistics.median(building_rates)
    ratio = building / signing
    result = {
        "passes_per_second": round(building, 1),
        "bare_signatures_per_second": round(signing, 1),
        "ratio": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "rounds": rounds,
        "pass_bytes": len(sample),
        "passes_per_second_by_round": [round(value, 1) for value in building_rates],
        "signatures_per_second_by_round": [round(value, 1) for value in signing_rates],
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"bare PKCS#7 signatures : {signing:8.1f} /s  (median of {rounds} rounds)")
        print(f"passes built           : {building:8.1f} /s  ({len(sample)} bytes each)")
        print(f"ratio                  : {ratio:8.3f}   (target >= {TARGET_RATIO})")
    return 1 if args.check and ratio < TARGET_RATIO else 0


if __name__ == "__main__":
    sys.exit(main())
