"""Chat models: messages in, the model's text out. litellm reaches any provider."""

from __future__ import annotations

import asyncio
import os
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Literal

from infra.errors import Unavailable


@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


class ChatModel(ABC):
    """A language model behind a chat interface."""

    name: str

    @abstractmethod
    async def complete(self, messages: list[Message], *, json_output: bool = True) -> str:
        """The model's reply; raises Unavailable when the model cannot be reached or fails (5xx)."""

    @abstractmethod
    async def ping(self) -> None:
        """Raises Unavailable when the model is known not to answer; for readiness probes."""


class LiteLlmChatModel(ChatModel):
    """Any litellm model name ("openai/gpt-4o-mini", "ollama/llama3", ...), optionally at `api_base`.

    litellm is imported on first use with its bundled cost map: by default its import fetches
    the map from the internet.
    """

    def __init__(self, model: str, *, api_base: str = "", api_key: str = "", timeout: float = 120.0) -> None:
        self.name = model
        self.api_base = api_base
        self.api_key = api_key
        self.timeout = timeout
        self.failure = ""  # why the last completion could not reach the model; "" once one did

    async def ping(self) -> None:
        """With an API address: its `/models` answers (any status under 500; one round trip, no
        tokens spent). Without one (a provider's default address): the last completion's outcome."""
        if not self.api_base:
            if self.failure:
                raise Unavailable("llm", self.failure)
            return
        request = urllib.request.Request(
            self.api_base.rstrip("/") + "/models",
            headers={"Authorization": f"Bearer {self.api_key}"} if self.api_key else {},
        )

        def ask() -> None:
            try:
                with urllib.request.urlopen(request, timeout=5):
                    pass
            except urllib.error.HTTPError as e:
                if e.code >= 500:
                    raise Unavailable("llm", f"{self.name}: HTTP {e.code}") from e
            except (urllib.error.URLError, OSError) as e:
                raise Unavailable("llm", f"{self.name}: {type(e).__name__}") from e

        await asyncio.to_thread(ask)

    async def complete(self, messages: list[Message], *, json_output: bool = True) -> str:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm
        from litellm.exceptions import APIConnectionError, InternalServerError, ServiceUnavailableError, Timeout

        litellm.suppress_debug_info = True  # its "Give Feedback" banner on every error, on stdout

        options: dict[str, Any] = {"timeout": self.timeout}
        if self.api_base:
            options["api_base"] = self.api_base
        if self.api_key:
            options["api_key"] = self.api_key
        if json_output:
            options["response_format"] = {"type": "json_object"}
        try:
            reply = await litellm.acompletion(
                model=self.name, messages=[{"role": m.role, "content": m.content} for m in messages], **options
            )
        except (APIConnectionError, InternalServerError, ServiceUnavailableError, Timeout) as e:
            self.failure = f"{self.name}: {type(e).__name__}"
            raise Unavailable("llm", self.failure) from e
        self.failure = ""
        content = reply.choices[0].message.content
        return str(content or "")
