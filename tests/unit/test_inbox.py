"""The inbox's rules: reads, "all read" only forward, preferences recorded only when changed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from domain import errors
from domain.inbox import Inbox, inbox_id

AT = datetime(2026, 5, 1, tzinfo=UTC)


def test_reads_all_read_and_preferences() -> None:
    user = uuid.uuid4()
    inbox = Inbox.blank(inbox_id(user))
    with pytest.raises(errors.RuleViolation):
        inbox.read(user, (), AT)
    n = uuid.uuid4()
    inbox.read(user, (n, n), AT)
    assert inbox.pending[-1] == Inbox.Read(user, (n,), AT)
    assert inbox.read_all(user, 10, AT) and not inbox.read_all(user, 5, AT) and inbox.read_through == 10
    assert inbox.prefer(user, "certificate_ready", False, True)
    assert not inbox.prefer(user, "certificate_ready", False, True)
    replayed = Inbox.replay(inbox.id, inbox.collect())
    assert replayed.read_through == 10 and replayed.preferences == {"certificate_ready": (False, True)}
    assert inbox_id(user) == inbox_id(user) != inbox_id(uuid.uuid4())
