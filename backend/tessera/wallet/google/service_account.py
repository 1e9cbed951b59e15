"""A Google Cloud service-account key, read once: it signs save links and API token requests.

The JSON key file is the one the Google Cloud console downloads (``client_email``,
``private_key_id``, ``private_key`` as PKCS#8 PEM, ``token_uri``). The private key is parsed once
here, because parsing an RSA key costs more than signing with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL, not a secret)


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    client_email: str
    private_key_id: str
    private_key: RSAPrivateKey = field(repr=False)
    token_uri: str = GOOGLE_TOKEN_URI

    @classmethod
    def from_file(cls, path: Path) -> ServiceAccount:
        """Load a Google-format JSON key; ``ValueError`` names what is missing or wrong."""
        try:
            info = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ValueError(f"cannot read the service-account key {path}: {error}") from error
        return cls.from_info(info, source=str(path))

    @classmethod
    def from_info(cls, info: Any, *, source: str = "service-account key") -> ServiceAccount:
        if not isinstance(info, dict):
            raise ValueError(f"{source}: not a JSON object")
        values: dict[str, str] = {}
        for name in ("client_email", "private_key_id", "private_key"):
            value = info.get(name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{source}: {name} is missing")
            values[name] = value
        token_uri = info.get("token_uri", GOOGLE_TOKEN_URI)
        if not isinstance(token_uri, str) or not token_uri.startswith(("https://", "http://")):
            raise ValueError(f"{source}: token_uri is not a URL")
        try:
            key = load_pem_private_key(values["private_key"].encode(), password=None)
        except (ValueError, TypeError) as error:
            # The message of cryptography never contains key material.
            raise ValueError(f"{source}: private_key is not an unencrypted PEM key: {error}") from error
        if not isinstance(key, RSAPrivateKey):
            raise ValueError(f"{source}: private_key is not an RSA key")
        return cls(values["client_email"], values["private_key_id"], key, token_uri)

    def public_key(self) -> RSAPublicKey:
        return self.private_key.public_key()
