"""Several Docker engines behind one `LabEngine`: a new sandbox is placed on the engine holding
the fewest of this runner's sandboxes (the next one if that engine refuses), and every later
request goes to the engine that holds it. A sandbox's id names its engine (`<index>/<id>`), so
nothing else needs to remember where it lives."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from infra.errors import Unavailable
from infra.labengine.port import EngineError, LabEngine, OutputSink, RunResult, SandboxGone, SandboxSpec
from infra.logging import get_logger

log = get_logger(__name__)


class PlacedEngines(LabEngine):
    def __init__(self, engines: Sequence[LabEngine]) -> None:
        if not engines:
            raise ValueError("at least one engine")
        self.engines = list(engines)
        self.held: list[set[str]] = [set() for _ in engines]  # sandbox ids per engine

    def _where(self, sandbox_id: str) -> tuple[LabEngine, str]:
        index, _, raw = sandbox_id.partition("/")
        if not index.isdigit() or int(index) >= len(self.engines) or not raw:
            raise SandboxGone(f"no sandbox {sandbox_id}")
        return self.engines[int(index)], raw

    async def ping(self) -> bool:
        """True when any engine answers."""
        return any([await e.ping() for e in self.engines])

    async def ensure_images(self) -> None:
        for index, engine in enumerate(self.engines):
            if await engine.ping():
                await engine.ensure_images()
            else:
                log.warning("labs.engine_down", engine=index, detail="no images built there until it answers")

    async def create(self, name: str, spec: SandboxSpec) -> str:
        order = sorted(range(len(self.engines)), key=lambda i: (len(self.held[i]), i))
        failure: Exception | None = None
        for index in order:
            try:
                raw = await self.engines[index].create(name, spec)
            except (EngineError, Unavailable) as e:  # full, down or refusing: the next one
                log.warning("labs.placement_failed", engine=index, error=str(e))
                failure = e
                continue
            self.held[index].add(raw)
            return f"{index}/{raw}"
        assert failure is not None
        raise failure

    async def write_files(self, sandbox_id: str, files: Mapping[str, bytes]) -> None:
        engine, raw = self._where(sandbox_id)
        await engine.write_files(raw, files)

    async def read_files(self, sandbox_id: str, paths: list[str]) -> dict[str, bytes]:
        engine, raw = self._where(sandbox_id)
        return await engine.read_files(raw, paths)

    async def run(
        self,
        sandbox_id: str,
        argv: list[str],
        *,
        timeout_s: float,
        output_cap: int,
        sink: OutputSink | None = None,
    ) -> RunResult:
        engine, raw = self._where(sandbox_id)
        return await engine.run(raw, argv, timeout_s=timeout_s, output_cap=output_cap, sink=sink)

    async def pause(self, sandbox_id: str) -> None:
        engine, raw = self._where(sandbox_id)
        await engine.pause(raw)

    async def resume(self, sandbox_id: str) -> None:
        engine, raw = self._where(sandbox_id)
        await engine.resume(raw)

    async def remove(self, sandbox_id: str) -> None:
        engine, raw = self._where(sandbox_id)
        await engine.remove(raw)
        self.held[int(sandbox_id.partition("/")[0])].discard(raw)

    async def sandboxes(self, labels: Mapping[str, str]) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        for index, engine in enumerate(self.engines):
            if await engine.ping():
                found |= {f"{index}/{raw}": got for raw, got in (await engine.sandboxes(labels)).items()}
        return found

    async def close(self) -> None:
        for engine in self.engines:
            await engine.close()


def engine_urls(setting: str | None) -> list[str | None]:
    """The engines a `CW_DOCKER_URL` names: comma-separated URLs, or one (None: the default)."""
    urls = [u.strip() for u in (setting or "").split(",") if u.strip()]
    return list(urls) if urls else [None]
