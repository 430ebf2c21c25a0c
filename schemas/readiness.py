"""Readiness on the wire: one service's check, and what the pipeline process reports of its own
dependencies (the gateway asks it on NATS and shows the answer in `/ready`)."""

from __future__ import annotations

import msgspec


class Check(msgspec.Struct, kw_only=True, omit_defaults=True):
    status: str  # ok | down | disabled
    detail: str = ""  # why it is down (for operators)


class PipelineReadiness(msgspec.Struct, kw_only=True):
    qdrant: Check
    llm: Check  # disabled: no CW_LLM_MODEL, the offline writer needs none
