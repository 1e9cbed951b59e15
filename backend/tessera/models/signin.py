from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from tessera.core.db.base import Base


class SignInCode(Base):
    """A one-time sign-in code, kept only as a keyed digest of (channel, contact, code).

    The code itself is derived at delivery from a nonce in its outbox row (``SignInKeys``), so
    neither table holds it. A code is live while ``used_at`` is null and ``expires_at`` is ahead;
    a newer code for the same customer ends it by moving ``expires_at`` to that moment.
    """

    __tablename__ = "customer_sign_in_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    # Looked up within one customer's few codes (by ``customer_id``), so it needs no index.
    code_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
