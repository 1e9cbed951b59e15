"""Apple pass files read by tools independent of the code that builds them: the zip and its
manifest (zipfile, hashlib), the PKCS#7 signature with OpenSSL, ``pass.json`` with
passkit-generator's schemas in Node.js (``tests/js``), image sizes from the PNG headers (struct +
zlib), ``pass.strings`` line by line."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from tests.support.ci import IN_CI

JS_DIR = Path(__file__).resolve().parents[1] / "js"
OPENSSL = shutil.which("openssl") or "openssl"
# The images Apple asks of a pass: logos fit in these boxes, icons have exactly these sizes.
LOGO_BOXES = {"logo.png": (160, 50), "logo@2x.png": (320, 100), "logo@3x.png": (480, 150)}
ICON_SIZES = {"icon.png": (29, 29), "icon@2x.png": (58, 58), "icon@3x.png": (87, 87)}


def unpacked(pkpass: bytes, into: Path | None = None) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(pkpass)) as archive:
        names = archive.namelist()
        assert len(names) == len(set(names)), "duplicate zip entries"
        files = {name: archive.read(name) for name in names}
    if into is not None:
        for name, data in files.items():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            (into / name).write_bytes(data)
    return files


def pass_json(pkpass: bytes) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(unpacked(pkpass)["pass.json"])
    return data


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, whose CRC is checked too."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    (crc,) = struct.unpack(">I", data[16 + length : 20 + length])
    assert zlib.crc32(data[12 : 16 + length]) == crc, "IHDR CRC mismatch"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def strings_of(data: bytes) -> dict[str, str]:
    """A pass.strings file's pairs, read line by line (comments are whole lines here)."""
    text = data.decode("utf-8")
    pairs = {}
    for line in text.splitlines():
        if line.startswith('"'):
            match = re.fullmatch(r'"((?:[^"\\]|\\.)*)" = "((?:[^"\\]|\\.)*)";', line)
            assert match, line
            pairs[match[1]] = match[2]
    return pairs


def openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([OPENSSL, *args], capture_output=True, text=True, check=False)


def openssl_verifies(folder: Path, ca: Path) -> bool:
    result = openssl(
        "cms", "-verify", "-binary", "-inform", "DER", "-in", str(folder / "signature"),
        "-content", str(folder / "manifest.json"), "-CAfile", str(ca), "-purpose", "any",
        "-out", os.devnull,
    )  # fmt: skip
    return result.returncode == 0


def validator_command(js_dir: Path, *, in_ci: bool) -> list[str]:
    """node + validate_pass.mjs; missing tools fail the test in CI and skip it elsewhere."""
    node = shutil.which("node")
    if node is None or not (js_dir / "node_modules" / "passkit-generator").is_dir():
        message = "pass.json validation needs Node.js and `npm ci --prefix tests/js`"
        if in_ci:
            pytest.fail(message)
        pytest.skip(message)
    return [node, str(js_dir / "validate_pass.mjs")]


def validator_problems(data: dict[str, Any], tmp_path: Path) -> list[str]:
    path = tmp_path / "candidate-pass.json"
    path.write_text(json.dumps(data))
    result = subprocess.run(
        [*validator_command(JS_DIR, in_ci=IN_CI), str(path)], capture_output=True, text=True, check=False
    )
    if result.returncode == 0:
        assert result.stdout.strip() == "valid"
        return []
    assert result.returncode == 1, result.stderr
    return result.stdout.strip().splitlines()
