"""An outage is logged once when it starts and once when it ends, with what went without."""

from __future__ import annotations

from structlog.testing import capture_logs

from infra.availability import RETRY_SECONDS, Availability


def test_outage_logs_carry_no_traceback() -> None:
    with capture_logs() as logs:
        redis = Availability("redis")
        try:
            raise ConnectionError("Connection refused")
        except ConnectionError as e:
            for _ in range(5):
                redis.failed(e, during="cache")
        redis.skipped("cache")
        redis.answered()
        redis.answered()
    assert [e["event"] for e in logs] == ["dependency.down", "dependency.up"]
    assert logs[0]["error"] == "ConnectionError: Connection refused"
    assert logs[1]["calls_without"] == {"cache": 6}
    assert not [e for e in logs if "exc_info" in e or "exception" in e]


def test_an_outage_seen_by_several_connections_ends_once_the_last_is_back() -> None:
    with capture_logs() as logs:
        nats = Availability("nats")
        for name in ("relay", "projector-a", "projector-b"):
            nats.failed("disconnected", during=name, source=name)
        nats.answered(source="projector-a")
        nats.failed("Connection refused", during="relay", source="relay")  # still retrying
        nats.answered(source="relay")
        assert not nats.up
        nats.answered(source="projector-b")
        nats.answered(source="relay")
    assert [e["event"] for e in logs] == ["dependency.down", "dependency.up"]
    assert nats.up


def test_while_down_a_caller_may_try_once_per_retry_interval() -> None:
    redis = Availability("redis")
    assert redis.worth_trying()
    redis.failed("Connection refused", during="cache")
    assert not redis.worth_trying()  # just failed: skip it
    redis._tried_at -= RETRY_SECONDS
    assert redis.worth_trying()  # one caller tries...
    assert not redis.worth_trying()  # ...the others still skip
    redis.answered()
    assert redis.worth_trying()
