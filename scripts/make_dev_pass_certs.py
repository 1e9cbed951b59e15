"""Make a throwaway development CA and Pass Type ID certificate, so passes can be built, signed
and verified without Apple (a test-CA pass installs on no real iPhone).

    python scripts/make_dev_pass_certs.py --out var/wallet-dev/apple

Prints the ``TESSERA_APPLE_*`` variables that point Tessera at them. Without those variables,
development settings make the same certificates under ``$TESSERA_DATA_DIR/wallet-dev``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tessera.settings import DEVELOPMENT_PASS_TYPE, DEVELOPMENT_TEAM
from tessera.wallet.apple.dev_certificates import make_development_certificates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=Path("var/wallet-dev/apple"), help="target folder")
    parser.add_argument("--pass-type-id", default=DEVELOPMENT_PASS_TYPE, help="passTypeIdentifier")
    parser.add_argument("--team-id", default=DEVELOPMENT_TEAM, help="teamIdentifier")
    args = parser.parse_args()
    made = make_development_certificates(args.out, args.pass_type_id, args.team_id)
    print(f"export TESSERA_APPLE_PASS_TYPE_ID={args.pass_type_id}")
    print(f"export TESSERA_APPLE_TEAM_ID={args.team_id}")
    print(f"export TESSERA_APPLE_CERT_PATH={made.cert_path.resolve()}")
    print(f"export TESSERA_APPLE_KEY_PATH={made.key_path.resolve()}")
    print(f"export TESSERA_APPLE_WWDR_PATH={made.wwdr_path.resolve()}")


if __name__ == "__main__":
    main()
