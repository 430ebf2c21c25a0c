"""The operations endpoints: read-model lag for operators only, metrics behind a token when one
is set."""

from __future__ import annotations

from pydantic import SecretStr

from infra.settings import Settings
from tests.integration.gateway_harness import QUERIES_DEPRECATIONS, people, running_gateway

pytestmark = QUERIES_DEPRECATIONS


async def test_projection_lag_is_for_platform_admins_and_the_metrics_token(settings: Settings) -> None:
    async with running_gateway(settings, metrics_token=SecretStr("scrape-me-0123456789")) as api:
        o = await people(api)
        assert (await api.client.get("/projections")).status_code == 401
        assert (await api.client.get("/projections", headers=o.headers["student"])).status_code == 403
        assert (await api.client.get("/projections", headers=o.admin)).status_code == 403  # an org admin
        _, operator = await api.platform_admin()
        assert (await api.client.get("/projections", headers=api.bearer(await api.login(operator)))).status_code == 200
        token = {"Authorization": "Bearer scrape-me-0123456789"}
        assert (await api.client.get("/projections", headers=token)).status_code == 200


async def test_metrics_need_the_token_once_it_is_set(settings: Settings) -> None:
    async with running_gateway(settings, metrics_token=SecretStr("scrape-me-0123456789")) as api:
        assert (await api.client.get("/metrics")).status_code == 401
        assert (await api.client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
        scraped = await api.client.get("/metrics", headers={"Authorization": "Bearer scrape-me-0123456789"})
        assert scraped.status_code == 200
        assert "cw_http_requests" in scraped.text or "http" in scraped.text


async def test_metrics_are_open_without_a_token(settings: Settings) -> None:
    async with running_gateway(settings) as api:
        assert (await api.client.get("/metrics")).status_code == 200
