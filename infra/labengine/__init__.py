"""The lab engine: sandboxes that run students' code (port, and the Docker adapter)."""

from infra.labengine.port import (
    EngineError,
    LabEngine,
    OutputSink,
    RunResult,
    SandboxGone,
    SandboxSpec,
)

__all__ = ["EngineError", "LabEngine", "OutputSink", "RunResult", "SandboxGone", "SandboxSpec"]
