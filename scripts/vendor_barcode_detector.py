"""Copy the barcode-detector ponyfill and its ZXing WebAssembly reader into the staff PWA.

The files are committed under ``pwa/staff/vendor/`` and served from our own origin (the package's
default would fetch the .wasm from a CDN). Run this only to move to another pinned version; it
needs ``npm`` and the npm registry, nothing at run time does.

    python scripts/vendor_barcode_detector.py
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

BARCODE_DETECTOR = "barcode-detector@3.2.2"
ZXING_WASM = "zxing-wasm@3.1.3"  # the version barcode-detector 3.2.2 depends on, exactly
VENDOR = Path(__file__).resolve().parents[1] / "pwa" / "staff" / "vendor"
FILES = {
    BARCODE_DETECTOR: {
        "package/dist/iife/ponyfill.js": "barcode-detector.js",
        "package/LICENSE": "LICENSE.barcode-detector",
    },
    ZXING_WASM: {
        "package/dist/reader/zxing_reader.wasm": "zxing_reader.wasm",
        "package/LICENSE": "LICENSE.zxing-wasm",
    },
}


def unpack(spec: str, into: Path) -> tarfile.TarFile:
    name = (
        subprocess.run(
            ["npm", "pack", spec, "--silent"], cwd=into, check=True, capture_output=True, text=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    return tarfile.open(into / name)


def main() -> None:
    VENDOR.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Vendored browser code (served from our origin; refresh with scripts/vendor_barcode_detector.py)",
        "",
    ]
    with tempfile.TemporaryDirectory() as work:
        for spec, files in FILES.items():
            with unpack(spec, Path(work)) as archive:
                for member, target in files.items():
                    source = archive.extractfile(member)
                    assert source is not None, member
                    with source, (VENDOR / target).open("wb") as out:
                        shutil.copyfileobj(source, out)
                    digest = hashlib.sha256((VENDOR / target).read_bytes()).hexdigest()
                    lines.append(
                        f"- `{target}`: npm `{spec}` `{member.removeprefix('package/')}`, sha256 `{digest}`"
                    )
    (VENDOR / "README.md").write_text("\n".join(lines) + "\n")
    print(f"vendored into {VENDOR}")


if __name__ == "__main__":
    main()
