"""Make throwaway pass certificates: a stand-in WWDR CA and the Pass Type ID certificate it issues.

With them passes can be built, signed and verified without Apple; a pass signed with them
installs on no real iPhone (production uses the Apple-issued certificate).

    python scripts/make_dev_pass_certs.py --out var/wallet-dev/apple \\
        [--pass-type-id pass.dev.tessera.coupon] [--team-id TESSERADEV]

Existing certificates for the same identifiers are kept. Prints the files, then the
``TESSERA_APPLE_*`` variables that point Tessera at them (``eval "$(... | grep ^export)"``).
Without those variables, development settings make the same kind of certificates under
``$TESSERA_DATA_DIR/wallet-dev/apple``.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from tessera.core.settings import DEVELOPMENT_PASS_TYPE, DEVELOPMENT_TEAM
from tessera.wallet.apple.dev_certificates import make_development_certificates


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=Path("var/wallet-dev/apple"), help="target folder")
    parser.add_argument("--pass-type-id", default=DEVELOPMENT_PASS_TYPE, help="passTypeIdentifier")
    parser.add_argument("--team-id", default=DEVELOPMENT_TEAM, help="teamIdentifier")
    args = parser.parse_args()
    made = make_development_certificates(args.out, args.pass_type_id, args.team_id)
    print(f"# stand-in WWDR CA   {made.wwdr_path.resolve()}")
    print(f"# pass certificate   {made.cert_path.resolve()}")
    print(f"# private key (0600) {made.key_path.resolve()}")
    variables = {
        "TESSERA_APPLE_PASS_TYPE_ID": args.pass_type_id,
        "TESSERA_APPLE_TEAM_ID": args.team_id,
        "TESSERA_APPLE_CERT_PATH": str(made.cert_path.resolve()),
        "TESSERA_APPLE_KEY_PATH": str(made.key_path.resolve()),
        "TESSERA_APPLE_WWDR_PATH": str(made.wwdr_path.resolve()),
    }
    for name, value in variables.items():
        print(f"export {name}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
