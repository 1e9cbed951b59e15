"""Bearer secrets: random, prefixed by kind, stored only as SHA-256 digests."""

from __future__ import annotations

import hashlib
import secrets
from typing import Literal

TokenKind = Literal["marketer_key", "staff", "customer"]
_PREFIX: dict[TokenKind, str] = {"marketer_key": "tsk_", "staff": "tss_", "customer": "tsc_"}
_KIND_OF = {prefix: kind for kind, prefix in _PREFIX.items()}


def new_token(kind: TokenKind) -> str:
    return _PREFIX[kind] + secrets.token_urlsafe(32)


def token_kind(token: str) -> TokenKind | None:
    return _KIND_OF.get(token[:4])


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
