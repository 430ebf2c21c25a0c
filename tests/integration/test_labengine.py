"""The lab engine contract, against a real Docker engine: what a lab may do, and what it may not.

Each abuse runs inside its sandbox; the sandbox (and the host) stay usable after it.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from infra.labengine import EngineError, LabEngine, SandboxSpec
from infra.labengine.docker import DockerLabEngine
from infra.labengine.placement import PlacedEngines
from tests.integration.docker_support import CACHE_DIR, docker_url

__all__ = ["docker_url"]

RUN = {"kind": "contract"}


class LabEngineContract:
    """Every engine must pass these; a subclass provides the `engine` fixture."""

    @pytest.fixture
    async def python_box(self, engine: LabEngine) -> AsyncIterator[str]:
        box = await engine.create(f"lab-test-{secrets.token_hex(4)}", SandboxSpec("python", memory_mb=96, pids=48))
        yield box
        await engine.remove(box)

    @pytest.fixture
    async def shell_box(self, engine: LabEngine) -> AsyncIterator[str]:
        box = await engine.create(f"lab-test-{secrets.token_hex(4)}", SandboxSpec("shell", memory_mb=64, pids=32))
        yield box
        await engine.remove(box)

    async def test_files_in_code_run_output_out(self, engine: LabEngine, python_box: str) -> None:
        await engine.write_files(python_box, {"main.py": b"import sys\nprint('hi', 6 * 7)\nsys.exit(3)\n"})
        streamed: list[bytes] = []

        async def sink(data: bytes) -> None:
            streamed.append(data)

        result = await engine.run(python_box, ["python3", "main.py"], timeout_s=20, output_cap=4096, sink=sink)
        assert (result.exit_code, result.output, result.timed_out, result.truncated) == (3, b"hi 42\n", False, False)
        assert b"".join(streamed) == b"hi 42\n"
        assert await engine.read_files(python_box, ["main.py", "missing.py"]) == {
            "main.py": b"import sys\nprint('hi', 6 * 7)\nsys.exit(3)\n"
        }

    async def test_runs_as_a_user_without_privileges(self, engine: LabEngine, shell_box: str) -> None:
        result = await engine.run(
            shell_box,
            ["sh", "-c", "id -u; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status"],
            timeout_s=20,
            output_cap=4096,
        )
        lines = result.output.decode().split()
        assert lines[0] == "1000"
        status = dict(zip(lines[1::2], lines[2::2], strict=True))
        assert status == {"CapEff:": "0000000000000000", "NoNewPrivs:": "1", "Seccomp:": "2"}

    async def test_the_root_filesystem_is_read_only(self, engine: LabEngine, shell_box: str) -> None:
        result = await engine.run(
            shell_box,
            ["sh", "-c", "touch /etc/owned 2>&1; touch /usr/owned 2>&1; echo ok > /work/mine && cat /work/mine"],
            timeout_s=20,
            output_cap=4096,
        )
        out = result.output.decode()
        assert out.count("Read-only file system") == 2 and out.endswith("ok\n")

    async def test_no_network_inside(self, engine: LabEngine, python_box: str) -> None:
        # 192.0.2.1 is a documentation address: with no interface but lo, nothing leaves anyway.
        code = (
            "import os, socket\n"
            "print(sorted(os.listdir('/sys/class/net')))\n"
            "try:\n"
            "    socket.create_connection(('192.0.2.1', 80), timeout=3)\n"
            "    print('connected')\n"
            "except OSError as e:\n"
            "    print('refused', e.errno)\n"
        )
        await engine.write_files(python_box, {"net.py": code.encode()})
        result = await engine.run(python_box, ["python3", "net.py"], timeout_s=20, output_cap=4096)
        assert result.output.decode().splitlines() == ["['lo']", "refused 101"]  # ENETUNREACH

    async def test_mount_and_host_files_are_out_of_reach(self, engine: LabEngine, shell_box: str) -> None:
        result = await engine.run(
            shell_box,
            ["sh", "-c", "mount -t tmpfs none /tmp 2>&1; echo mount=$?; cat /etc/shadow 2>&1; echo shadow=$?"],
            timeout_s=20,
            output_cap=4096,
        )
        out = result.output.decode()
        assert "mount=0" not in out and "shadow=1" in out

    async def test_ptrace_access_to_another_process_is_refused(self, engine: LabEngine, shell_box: str) -> None:
        """Reading another process's memory or environment needs ptrace access (the image has no
        debugger to attach with; the kernel's check is the same)."""
        probe = "cat /proc/1/mem 2>&1 | head -c 200; echo mem=$?; cat /proc/1/environ >/dev/null 2>&1; echo env=$?"
        result = await engine.run(shell_box, ["sh", "-c", probe], timeout_s=20, output_cap=4096)
        out = result.output.decode()
        assert "Permission denied" in out and "env=1" in out, out

    async def test_a_busy_loop_is_killed_at_the_wall_clock_limit(self, engine: LabEngine, python_box: str) -> None:
        result = await engine.run(python_box, ["python3", "-c", "while True: pass"], timeout_s=2, output_cap=4096)
        assert (result.timed_out, result.exit_code) == (True, 137)
        after = await engine.run(python_box, ["python3", "-c", "print('alive')"], timeout_s=20, output_cap=4096)
        assert after.output == b"alive\n"

    async def test_a_memory_hog_is_killed(self, engine: LabEngine, python_box: str) -> None:
        await engine.write_files(
            python_box, {"hog.py": b"blocks = []\nwhile True:\n    blocks.append(bytearray(16 << 20))\n"}
        )
        result = await engine.run(python_box, ["python3", "hog.py"], timeout_s=60, output_cap=4096)
        assert result.exit_code == 137 and not result.timed_out
        after = await engine.run(python_box, ["python3", "-c", "print('alive')"], timeout_s=20, output_cap=4096)
        assert after.output == b"alive\n"

    async def test_a_fork_bomb_hits_the_pids_limit(self, engine: LabEngine, shell_box: str) -> None:
        bomb = "bomb() { bomb | bomb & }; bomb; sleep 600"
        result = await engine.run(shell_box, ["sh", "-c", bomb], timeout_s=6, output_cap=4096)
        # Forks are refused at the limit; the run fails (or is killed at its cap or clock).
        assert b"Cannot fork" in result.output and result.exit_code != 0
        listing = "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done"
        after = await engine.run(shell_box, ["sh", "-c", listing], timeout_s=20, output_cap=65536)
        assert after.exit_code == 0 and not [p for p in after.output.decode().splitlines() if "bomb" in p]

    async def test_a_sleeper_is_killed_at_the_wall_clock_limit(self, engine: LabEngine, shell_box: str) -> None:
        result = await engine.run(shell_box, ["sh", "-c", "echo start; sleep 600"], timeout_s=2, output_cap=4096)
        assert (result.timed_out, result.exit_code, result.output) == (True, 137, b"start\n")
        # Nothing of the run is left behind.
        listing = "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done"
        ps = await engine.run(shell_box, ["sh", "-c", listing], timeout_s=20, output_cap=4096)
        assert "sleep infinity " in ps.output.decode().splitlines()
        assert "sleep 600 " not in ps.output.decode().splitlines()

    async def test_a_run_leaves_no_process_behind(self, engine: LabEngine, shell_box: str) -> None:
        left = await engine.run(shell_box, ["sh", "-c", "sleep 300 & echo started"], timeout_s=20, output_cap=4096)
        assert (left.exit_code, left.output) == (0, b"started\n")
        listing = "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done"
        ps = await engine.run(shell_box, ["sh", "-c", listing], timeout_s=20, output_cap=4096)
        assert "sleep 300 " not in ps.output.decode().splitlines()

    async def test_output_is_capped(self, engine: LabEngine, python_box: str) -> None:
        await engine.write_files(
            python_box, {"loud.py": b"import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n"}
        )
        result = await engine.run(python_box, ["python3", "loud.py"], timeout_s=60, output_cap=10_000)
        assert result.truncated and len(result.output) == 10_000 and result.output_bytes > 10_000
        assert result.exit_code == 137

    async def test_pause_freezes_and_resume_thaws(self, engine: LabEngine, shell_box: str) -> None:
        await engine.pause(shell_box)
        with pytest.raises(EngineError):
            await engine.run(shell_box, ["true"], timeout_s=5, output_cap=1024)
        await engine.resume(shell_box)
        result = await engine.run(shell_box, ["sh", "-c", "echo thawed"], timeout_s=20, output_cap=1024)
        assert result.output == b"thawed\n"

    async def test_sandboxes_are_found_by_label_and_removed(self, engine: LabEngine) -> None:
        tag = {"coursewright.test": secrets.token_hex(4)}
        box = await engine.create(f"lab-test-{secrets.token_hex(4)}", SandboxSpec("shell", labels=tag))
        assert await engine.sandboxes(tag) == {box: tag}
        await engine.remove(box)
        await engine.remove(box)  # gone already: no error
        assert await engine.sandboxes(tag) == {}


class TestDockerLabEngine(LabEngineContract):
    @pytest.fixture
    async def engine(self, docker_url: str) -> AsyncIterator[LabEngine]:
        engine = DockerLabEngine(docker_url, CACHE_DIR)
        yield engine
        await engine.close()


def test_the_labs_images_command_builds_or_finds_the_images(docker_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CW_")}
    env |= {"CW_DOCKER_URL": docker_url, "CW_LAB_CACHE_DIR": str(CACHE_DIR), "CW_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "gateway.cli", "labs", "images"]
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "coursewright-lab-python:1" in done.stderr and "coursewright-lab-shell:1" in done.stderr
    env["CW_DOCKER_URL"] = f"unix://{tmp_path}/nobody.sock"
    down = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert down.returncode == 1 and "no Docker engine answers" in down.stderr


class TestPlacedEngines(LabEngineContract):
    """Several engines behind one (CW_DOCKER_URL lists them): the same contract, with an engine
    that is down passed over (a socket nobody listens on stands for it)."""

    @pytest.fixture
    async def engine(self, docker_url: str, tmp_path: Path) -> AsyncIterator[LabEngine]:
        dead = DockerLabEngine(f"unix://{tmp_path}/nobody.sock", CACHE_DIR)
        engine = PlacedEngines([dead, DockerLabEngine(docker_url, CACHE_DIR)])
        yield engine
        await engine.close()
