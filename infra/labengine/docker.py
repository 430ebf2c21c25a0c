"""The lab engine on Docker, through aiodocker: one locked-down container per lab session.

Each container: no network, a non-root user, a read-only root with a small tmpfs work dir, all
capabilities dropped, no-new-privileges, the engine's default seccomp profile, memory with no
swap beyond it, a CPU quota, a pids limit, ulimits, and an init as PID 1 that reaps orphans.
Runs are `docker exec`s whose output is streamed, capped and whose wall clock is enforced here.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import tarfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiodocker
from aiodocker.containers import DockerContainer

from infra.errors import Unavailable
from infra.labengine.images import IMAGE_VERSION, build_context, image_name
from infra.labengine.port import WORK_DIR, EngineError, LabEngine, OutputSink, RunResult, SandboxGone, SandboxSpec
from infra.logging import get_logger

log = get_logger(__name__)

LAB_USER = "1000:1000"  # every run and file write
# The container's own processes (init and an idle sleep) run as another unprivileged user, so
# that killing everything of the lab user after a run leaves the sandbox up.
IDLE_USER = "65534:65534"
KILL_GRACE_S = 5.0  # how long the clean-up after a run may take before the sandbox is restarted
ENVIRONMENTS = ("python", "shell")
# A run ends by killing what it left in the background (kill -1 spares the shell itself and
# PID 1), in the same exec: no second round trip per run.
_AND_CLEAN_UP = ["sh", "-c", '"$@"; code=$?; kill -KILL -1 2>/dev/null; exit $code', "run"]


def host_config(spec: SandboxSpec) -> dict[str, Any]:
    """The container's HostConfig: every limit a lab runs under."""
    memory = spec.memory_mb * 1024 * 1024
    return {
        "NetworkMode": "bridge" if spec.network else "none",
        "ReadonlyRootfs": True,
        "Tmpfs": {
            WORK_DIR: f"rw,nosuid,nodev,size={spec.work_dir_mb}m,uid=1000,gid=1000,mode=0700",
            "/tmp": "rw,nosuid,nodev,noexec,size=16m,mode=1777",
        },
        "CapDrop": ["ALL"],
        # The default seccomp profile stays on: only no-new-privileges is added to it.
        "SecurityOpt": ["no-new-privileges"],
        "Memory": memory,
        "MemorySwap": memory,  # equal: no swap on top of memory
        "NanoCpus": int(spec.cpus * 1_000_000_000),
        "PidsLimit": spec.pids,
        "Ulimits": [
            {"Name": "nofile", "Soft": 256, "Hard": 256},
            # Counted per user across the host (every sandbox runs as uid 1000), so this is a
            # ceiling against runaway forks, not the per-sandbox limit (PidsLimit is).
            {"Name": "nproc", "Soft": 4096, "Hard": 4096},
            {"Name": "fsize", "Soft": spec.work_dir_mb * 1024 * 1024, "Hard": spec.work_dir_mb * 1024 * 1024},
            {"Name": "core", "Soft": 0, "Hard": 0},
        ],
        "Init": True,  # PID 1 reaps what killed runs leave behind
        "IpcMode": "private",
    }


def container_config(spec: SandboxSpec) -> dict[str, Any]:
    return {
        "Image": image_name(spec.environment),
        "Cmd": ["sleep", "infinity"],
        "User": IDLE_USER,
        "WorkingDir": WORK_DIR,
        "Env": ["HOME=/work", "PATH=/usr/local/bin:/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE=1", "LANG=C.UTF-8"],
        "Labels": dict(spec.labels),
        "NetworkDisabled": not spec.network,
        "HostConfig": host_config(spec),
    }


def files_tar(files: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, content in files.items():
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.uid, info.gid = len(content), 0o644, 1000, 1000
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def engine_url(configured: str | None) -> str | None:
    """The engine's address: the configured one, else DOCKER_HOST, else the local socket if any."""
    if configured:
        return configured
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    local = Path("/var/run/docker.sock")
    return f"unix://{local}" if local.is_socket() else None


class DockerLabEngine(LabEngine):
    """Drives one Docker engine (`url`: unix socket or tcp; None: the environment's default)."""

    def __init__(self, url: str | None, cache_dir: Path) -> None:
        self.url = url
        self.cache_dir = cache_dir
        self._docker: aiodocker.Docker | None = None

    @property
    def docker(self) -> aiodocker.Docker:
        if self._docker is None:
            url = engine_url(self.url)
            if url is None:
                raise Unavailable("docker", "no engine configured and no local socket")
            self._docker = aiodocker.Docker(url=url)
        return self._docker

    async def ping(self) -> bool:
        if engine_url(self.url) is None:
            return False
        try:
            await self.docker.version()
        except (aiodocker.DockerError, OSError, ValueError):
            return False
        return True

    async def ensure_images(self) -> None:
        for environment in ENVIRONMENTS:
            name = image_name(environment)
            try:
                await self.docker.images.inspect(name)
                continue
            except aiodocker.DockerError as e:
                if e.status != 404:
                    raise EngineError(f"inspect {name}: {e.message}") from e
            log.info("labs.image.build", image=name, version=IMAGE_VERSION)
            context = await asyncio.to_thread(build_context, environment, self.cache_dir)
            try:
                with context.open("rb") as fileobj:
                    await self.docker.images.build(fileobj=fileobj, encoding="identity", tag=name, rm=True)
            except aiodocker.DockerError as e:
                raise EngineError(f"build {name}: {e.message}") from e
            finally:
                context.unlink(missing_ok=True)

    async def create(self, name: str, spec: SandboxSpec) -> str:
        try:
            container = await self.docker.containers.create(container_config(spec), name=name)
            await container.start()
        except aiodocker.DockerError as e:
            raise EngineError(f"create sandbox {name}: {e.message}") from e
        return str(container.id)

    def _container(self, sandbox_id: str) -> DockerContainer:
        return self.docker.containers.container(sandbox_id)

    async def _exec(self, sandbox_id: str, argv: list[str], stdin: bytes | None = None) -> int:
        """Run a short command as the lab user to its end; its exit code."""
        try:
            execution = await self._container(sandbox_id).exec(
                argv, stdin=stdin is not None, user=LAB_USER, workdir=WORK_DIR
            )
            async with execution.start(detach=False) as stream:
                if stdin is not None:
                    await stream.write_in(stdin)
                    await stream.close()  # end of input
                while await stream.read_out() is not None:
                    pass
            return await self._exit_code(execution)
        except aiodocker.DockerError as e:
            raise self._translate(e, sandbox_id) from e

    async def _exit_code(self, execution: Any) -> int:
        for _ in range(200):  # the stream can end a moment before the engine records the exit
            info = await execution.inspect()
            if not info["Running"] and info["ExitCode"] is not None:
                return int(info["ExitCode"])
            await asyncio.sleep(0.01)
        raise EngineError("exec did not finish")

    def _translate(self, e: aiodocker.DockerError, sandbox_id: str) -> EngineError:
        if e.status == 404:
            return SandboxGone(f"sandbox {sandbox_id} is gone")
        return EngineError(f"sandbox {sandbox_id}: {e.message}")

    async def write_files(self, sandbox_id: str, files: Mapping[str, bytes]) -> None:
        # The work dir is a tmpfs, which the engine's archive API does not reach: tar reads stdin.
        code = await self._exec(
            sandbox_id, ["tar", "-x", "--no-same-owner", "-C", WORK_DIR, "-f", "-"], files_tar(files)
        )
        if code != 0:
            raise EngineError(f"writing files into sandbox {sandbox_id} failed ({code})")

    async def read_files(self, sandbox_id: str, paths: list[str]) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for path in paths:
            try:
                execution = await self._container(sandbox_id).exec(["cat", "--", path], user=LAB_USER, workdir=WORK_DIR)
                chunks: list[bytes] = []
                async with execution.start(detach=False) as stream:
                    while (message := await stream.read_out()) is not None:
                        if message.stream == 1:
                            chunks.append(message.data)
                if await self._exit_code(execution) == 0:
                    out[path] = b"".join(chunks)
            except aiodocker.DockerError as e:
                raise self._translate(e, sandbox_id) from e
        return out

    async def run(
        self,
        sandbox_id: str,
        argv: list[str],
        *,
        timeout_s: float,
        output_cap: int,
        sink: OutputSink | None = None,
    ) -> RunResult:
        started = time.monotonic()
        kept: list[bytes] = []
        size = total = 0
        timed_out = truncated = False
        try:
            execution = await self._container(sandbox_id).exec([*_AND_CLEAN_UP, *argv], user=LAB_USER, workdir=WORK_DIR)
            async with execution.start(detach=False) as stream:
                try:
                    async with asyncio.timeout(timeout_s):
                        while (message := await stream.read_out()) is not None:
                            total += len(message.data)
                            piece = message.data[: max(0, output_cap - size)]
                            if piece:
                                size += len(piece)
                                kept.append(piece)
                                if sink is not None:
                                    await sink(piece)
                            if total > output_cap:
                                # Runaway output ends the run: reading on would only feed a loop.
                                truncated = True
                                break
                except TimeoutError:
                    timed_out = True
            if timed_out or truncated:
                code, reset = 137, await self._kill_leftovers(sandbox_id)
            else:
                code, reset = await self._exit_code(execution), False
        except aiodocker.DockerError as e:
            raise self._translate(e, sandbox_id) from e
        return RunResult(
            exit_code=code,
            duration_ms=int((time.monotonic() - started) * 1000),
            output=b"".join(kept),
            output_bytes=total,
            truncated=truncated,
            timed_out=timed_out,
            reset=reset,
        )

    async def _kill_leftovers(self, sandbox_id: str) -> bool:
        """Kill every process of the lab user (kill -1 spares the caller and PID 1).

        A sandbox whose pids are all taken (a fork bomb) cannot start even that; it is then
        restarted, which empties its work dir: True then, and the caller writes the files again.
        """
        try:
            async with asyncio.timeout(KILL_GRACE_S):
                code = await self._exec(sandbox_id, ["sh", "-c", "kill -KILL -1 2>/dev/null; exit 0"])
            if code == 0:
                return False
        except (TimeoutError, EngineError) as e:
            if isinstance(e, SandboxGone):
                raise
        log.warning("labs.sandbox.restart", sandbox=sandbox_id[:12])
        container = self._container(sandbox_id)
        try:
            await container.kill()
            await container.wait()
            await container.start()
        except aiodocker.DockerError as e:
            raise self._translate(e, sandbox_id) from e
        return True

    async def pause(self, sandbox_id: str) -> None:
        try:
            await self._container(sandbox_id).pause()
        except aiodocker.DockerError as e:
            raise self._translate(e, sandbox_id) from e

    async def resume(self, sandbox_id: str) -> None:
        try:
            await self._container(sandbox_id).unpause()
        except aiodocker.DockerError as e:
            raise self._translate(e, sandbox_id) from e

    async def remove(self, sandbox_id: str) -> None:
        try:
            await self._container(sandbox_id).delete(force=True)
        except aiodocker.DockerError as e:
            if e.status != 404:
                raise self._translate(e, sandbox_id) from e

    async def sandboxes(self, labels: Mapping[str, str]) -> dict[str, dict[str, str]]:
        wanted = [f"{k}={v}" for k, v in labels.items()]
        try:
            found = await self.docker.containers.list(all=True, filters=json.dumps({"label": wanted}))
        except aiodocker.DockerError as e:
            raise EngineError(f"list sandboxes: {e.message}") from e
        return {str(c.id): dict(c["Labels"] or {}) for c in found}

    async def close(self) -> None:
        if self._docker is not None:
            await self._docker.close()
            self._docker = None
