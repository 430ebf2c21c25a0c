"""Shared by the tests that run `coursewright up` as a subprocess: its command line, a free port
and the component processes it started."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
from pathlib import Path

import psutil


def coursewright_command() -> list[str]:
    """The installed `coursewright` script, or the module when it is not installed."""
    script = Path(sys.executable).parent / "coursewright"
    return [str(script)] if script.exists() else [sys.executable, "-m", "gateway.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def component_processes(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> dict[str, list[psutil.Process]]:
    """The component processes `up` started, by component name (`coursewright run NAME`)."""
    found: dict[str, list[psutil.Process]] = {}
    for child in psutil.Process(proc.pid).children():
        with contextlib.suppress(psutil.NoSuchProcess):
            cmdline = child.cmdline()
            if "run" in cmdline:
                found.setdefault(cmdline[cmdline.index("run") + 1], []).append(child)
    return found
