"""The lab engine port: one sandbox per lab session, files in, commands run with limits.

The runner never knows which engine it drives (a local Docker engine, a remote one by URL);
tests run the same contract against the real engine (`tests/integration/test_labengine.py`).
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from infra.errors import InfraError

OutputSink = Callable[[bytes], Awaitable[None]]  # receives output as it comes, within the cap
WORK_DIR = "/work"


class EngineError(InfraError):
    """The engine refused or failed a request (translated from the engine's own errors)."""


class SandboxGone(EngineError):
    """The sandbox does not exist any more (removed, or lost with a restarted engine)."""


@dataclass(frozen=True)
class SandboxSpec:
    """Limits of one sandbox; every run inside it is held to them."""

    environment: str  # the image family: "python" or "shell"
    memory_mb: int = 256  # memory and swap together: no swap beyond memory
    cpus: float = 1.0
    pids: int = 64
    network: bool = False
    work_dir_mb: int = 64  # the tmpfs work dir, the only writable place
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunResult:
    exit_code: int  # 137 when killed (timeout, memory)
    duration_ms: int
    output: bytes  # stdout and stderr interleaved, at most the cap
    output_bytes: int  # produced in all (the part beyond the cap was read and dropped)
    truncated: bool
    timed_out: bool
    reset: bool = False  # the sandbox was restarted to end the run: its work dir is empty


class LabEngine(abc.ABC):
    @abc.abstractmethod
    async def ping(self) -> bool:
        """True when the engine answers."""

    @abc.abstractmethod
    async def ensure_images(self) -> None:
        """Build the environments' images if the engine lacks them."""

    @abc.abstractmethod
    async def create(self, name: str, spec: SandboxSpec) -> str:
        """Create and start a sandbox; returns its id."""

    @abc.abstractmethod
    async def write_files(self, sandbox_id: str, files: Mapping[str, bytes]) -> None:
        """Write files (paths relative to the work dir) as the sandbox's user."""

    @abc.abstractmethod
    async def read_files(self, sandbox_id: str, paths: list[str]) -> dict[str, bytes]:
        """The named files of the work dir that exist."""

    @abc.abstractmethod
    async def run(
        self,
        sandbox_id: str,
        argv: list[str],
        *,
        timeout_s: float,
        output_cap: int,
        sink: OutputSink | None = None,
    ) -> RunResult:
        """Run `argv` in the work dir; killed at `timeout_s`; output beyond `output_cap` is dropped.

        Every process the run left behind is killed when it ends, so runs do not pile up.
        """

    @abc.abstractmethod
    async def pause(self, sandbox_id: str) -> None:
        """Freeze every process of the sandbox."""

    @abc.abstractmethod
    async def resume(self, sandbox_id: str) -> None:
        """Thaw a frozen sandbox."""

    @abc.abstractmethod
    async def remove(self, sandbox_id: str) -> None:
        """Kill and delete the sandbox (no error when it is already gone)."""

    @abc.abstractmethod
    async def sandboxes(self, labels: Mapping[str, str]) -> dict[str, dict[str, str]]:
        """The sandboxes carrying all these labels, with all their labels, by id (to find
        orphans after a restart)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the connection to the engine."""
