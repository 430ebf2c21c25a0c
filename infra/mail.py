"""Outgoing mail. Until a delivery service exists, a message is written to the log."""

from __future__ import annotations

from datetime import datetime

from infra.logging import get_logger

log = get_logger(__name__)


async def send_password_reset(to: str, token: str, expires_at: datetime) -> None:
    """Send the reset token to `to`; for now the token goes to the structured log."""
    log.info(
        "mail.password_reset",
        to=to,
        token=token,
        expires_at=expires_at.isoformat(),
        note="no mail delivery configured: the token is logged",
    )
