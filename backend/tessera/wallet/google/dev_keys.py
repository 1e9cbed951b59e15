"""A throwaway service-account key for development and demos, so save links work without a
Google Cloud project (Google will not accept them, but everything up to the link does run)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tessera.wallet.google.service_account import GOOGLE_TOKEN_URI


def make_development_service_account(
    path: Path,
    issuer_email: str = "tessera-dev@tessera.invalid",
    token_uri: str = GOOGLE_TOKEN_URI,
) -> Path:
    """Write a Google-format service-account JSON key (fresh RSA-2048) at ``path``, mode 0600.

    An existing file is kept, so the key survives restarts; of processes starting at once, the
    first to finish writing wins and the others use its file.
    """
    path = Path(path)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    document = {
        "type": "service_account",
        "project_id": "tessera-development",
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": issuer_email,
        "client_id": str(secrets.randbelow(10**20)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
    }
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(document, file, indent=2)
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):  # another process got there first: use theirs
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path
