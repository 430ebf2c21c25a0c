"""An outage is logged once when it starts and once when it ends, with what went without."""

from __future__ import annotations

from structlog.testing import capture_logs

from infra.availability import Availability


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
