"""The composition root: the components `coursewright up` runs, built from settings."""

from __future__ import annotations

from gateway.supervisor import Component
from infra.logging import get_logger
from infra.settings import Settings

log = get_logger(__name__)


def relay_component(settings: Settings) -> Component | None:
    """The event-store-to-JetStream relay, or None while infra.relay is not in this build."""
    try:
        from infra.relay import Relay  # lazily: nothing is imported or connected before `up`
    except ModuleNotFoundError as e:
        if e.name != "infra.relay":
            raise
        log.warning("component.unavailable", component="relay", reason="no infra.relay module")
        return None
    return Component("relay", lambda: Relay(settings).run())


def projectors_component(settings: Settings) -> Component:
    """Every projector (read models), restarted one by one when they fail."""
    from projections import run_projectors

    return Component("projectors", lambda: run_projectors(settings))


def gateway_component(settings: Settings) -> Component:
    """The HTTP API (Litestar on uvicorn, on the supervisor's uvloop loop)."""

    async def run() -> None:
        from gateway.http import serve
        from gateway.services import Services

        services = await Services.start(settings)
        try:
            await serve(services)
        finally:
            await services.close()

    return Component("gateway", run)


def components(settings: Settings) -> list[Component]:
    """Everything `coursewright up` runs side by side, in start order."""
    # The generation pipeline and the lab runner join this list as they land, each as
    # Component(name, factory of a coroutine that runs until cancelled).
    found = [relay_component(settings), projectors_component(settings), gateway_component(settings)]
    return [c for c in found if c is not None]
