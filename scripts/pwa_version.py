"""Stamp each PWA's service worker with a digest of the shell files it caches.

A service worker only reinstalls when its own bytes change, so the digest in ``VERSION`` is what
carries a changed stylesheet or module to installed apps. ``--check`` (used by the test suite)
fails when a stamp is stale.

    python scripts/pwa_version.py          # rewrite stale stamps
    python scripts/pwa_version.py --check  # exit 1 if any is stale
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

PWA = Path(__file__).resolve().parents[1] / "pwa"
APPS = {"customer": "/", "staff": "/staff/"}
VERSION = re.compile(r'^const VERSION = "([0-9a-f]*)";$', re.MULTILINE)
SHELL = re.compile(r"^const SHELL = (\[.*?\]);$", re.MULTILINE | re.DOTALL)


def shell_files(worker: str, app_dir: Path, scope: str) -> list[Path]:
    """The files behind the worker's ``SHELL`` list (URL paths under ``scope`` or ``/shared/``)."""
    match = SHELL.search(worker)
    if match is None:
        raise SystemExit(f"{app_dir}/sw.js has no SHELL list")
    paths: list[str] = json.loads(re.sub(r",\s*\]", "]", match.group(1)))
    files = []
    for path in paths:
        if path.startswith("/shared/"):
            files.append(PWA / "shared" / path.removeprefix("/shared/"))
        elif path == scope:
            files.append(app_dir / "index.html")
        else:
            files.append(app_dir / path.removeprefix(scope))
    return files


def digest(app_dir: Path, scope: str) -> str:
    worker = (app_dir / "sw.js").read_text()
    sha = hashlib.sha256()
    for file in shell_files(worker, app_dir, scope):
        sha.update(file.relative_to(PWA).as_posix().encode() + b"\0" + file.read_bytes())
    # The worker's own code counts too, without the stamp it carries.
    sha.update(VERSION.sub('const VERSION = "";', worker).encode())
    return sha.hexdigest()[:12]


def stale_workers() -> dict[Path, str]:
    """Each service worker whose stamp is out of date, with the stamp it should carry."""
    stale = {}
    for app, scope in APPS.items():
        app_dir = PWA / app
        worker = (app_dir / "sw.js").read_text()
        current = VERSION.search(worker)
        expected = digest(app_dir, scope)
        if current is None or current.group(1) != expected:
            stale[app_dir / "sw.js"] = expected
    return stale


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only report stale stamps")
    arguments = parser.parse_args()
    stale = stale_workers()
    for worker, expected in stale.items():
        if arguments.check:
            print(f"{worker}: VERSION should be {expected}; run python scripts/pwa_version.py")
        else:
            text = VERSION.sub(f'const VERSION = "{expected}";', worker.read_text())
            worker.write_text(text)
            print(f"{worker}: VERSION = {expected}")
    return 1 if stale and arguments.check else 0


if __name__ == "__main__":
    sys.exit(main())
