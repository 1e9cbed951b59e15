"""Copy the third-party browser code the PWAs use into their ``vendor/`` folders.

The files are committed and served from our own origin (never a CDN: the barcode reader's default
would even fetch its .wasm from one). Run this only to move to other pinned versions; it needs
``npm`` and the npm registry, nothing at run time does.

    python scripts/vendor_browser_code.py
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
import tempfile
from collections import defaultdict
from pathlib import Path

PWA = Path(__file__).resolve().parents[1] / "pwa"
# npm package → {file in the package: where it goes under pwa/}
PACKAGES = {
    "barcode-detector@3.2.2": {
        "package/dist/iife/ponyfill.js": "staff/vendor/barcode-detector.js",
        "package/LICENSE": "staff/vendor/LICENSE.barcode-detector",
    },
    # The version barcode-detector 3.2.2 depends on, exactly.
    "zxing-wasm@3.1.3": {
        "package/dist/reader/zxing_reader.wasm": "staff/vendor/zxing_reader.wasm",
        "package/LICENSE": "staff/vendor/LICENSE.zxing-wasm",
    },
    "chart.js@4.6.1": {
        "package/dist/chart.umd.min.js": "console/vendor/chart.umd.min.js",
        "package/LICENSE.md": "console/vendor/LICENSE.chart.js",
    },
}


def unpack(spec: str, into: Path) -> tarfile.TarFile:
    packed = subprocess.run(
        ["npm", "pack", spec, "--silent"], cwd=into, check=True, capture_output=True, text=True
    )
    return tarfile.open(into / packed.stdout.strip().splitlines()[-1])


def main() -> None:
    notes: dict[Path, list[str]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as work:
        for spec, files in PACKAGES.items():
            with unpack(spec, Path(work)) as archive:
                for member, target in files.items():
                    path = PWA / target
                    path.parent.mkdir(parents=True, exist_ok=True)
                    source = archive.extractfile(member)
                    assert source is not None, member
                    with source, path.open("wb") as out:
                        shutil.copyfileobj(source, out)
                    digest = hashlib.sha256(path.read_bytes()).hexdigest()
                    member_name = member.removeprefix("package/")
                    notes[path.parent].append(
                        f"- `{path.name}`: npm `{spec}` `{member_name}`, sha256 `{digest}`"
                    )
    for folder, lines in notes.items():
        title = (
            "# Vendored browser code (served from our origin; refresh with scripts/vendor_browser_code.py)"
        )
        (folder / "README.md").write_text("\n".join([title, "", *lines]) + "\n")
        print(f"vendored into {folder}")


if __name__ == "__main__":
    main()
