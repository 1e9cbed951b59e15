"""The PWAs' static files: each service worker caches its whole shell and carries a current
version stamp (a changed file without a new stamp would never reach installed apps)."""

from __future__ import annotations

import re
import subprocess
import sys

from scripts.pwa_version import APPS, PWA, SHELL, shell_files, stale_workers

SERVED = {".html", ".css", ".js", ".webmanifest", ".png", ".wasm"}
IMPORT = re.compile(r"""^import .*? from "([^"]+)";$""", re.MULTILINE)


def test_every_service_worker_stamp_is_current() -> None:
    assert stale_workers() == {}, "run: python scripts/pwa_version.py"
    check = subprocess.run(
        [sys.executable, str(PWA.parent / "scripts" / "pwa_version.py"), "--check"], check=False
    )
    assert check.returncode == 0


def test_the_shell_holds_every_file_of_the_app_and_every_shared_module_it_imports() -> None:
    for app, scope in APPS.items():
        app_dir = PWA / app
        worker = (app_dir / "sw.js").read_text()
        assert SHELL.search(worker)
        cached = set(shell_files(worker, app_dir, scope))
        own = {
            path
            for path in app_dir.rglob("*")
            if path.is_file() and path.name != "sw.js" and path.suffix in SERVED
        }
        assert own <= cached, sorted(str(path) for path in own - cached)
        imported = {
            PWA / "shared" / target.removeprefix("/shared/")
            for module in app_dir.glob("*.js")
            for target in IMPORT.findall(module.read_text())
            if target.startswith("/shared/")
        }
        assert imported <= cached, sorted(str(path) for path in imported - cached)
        assert all(path.exists() for path in cached)


def test_no_page_loads_anything_from_another_origin() -> None:
    for path in PWA.rglob("*"):
        # Vendored code is pinned and checked in the browser tests, which record every request.
        if path.suffix in {".html", ".js", ".css", ".webmanifest"} and "vendor" not in path.parts:
            assert not re.search(r"""(src|href|url)\s*[=(]\s*["']?(https?:)?//""", path.read_text()), path
