"""A small OpenAI-compatible chat server for tests (standard library asyncio only).

It answers `POST /v1/chat/completions` from the prompt itself: the lesson it returns is built
from the excerpts in the last user message (their sentences, cited by their ids), so the
pipeline's prompt, JSON validation and citation mapping are exercised for real. The first
answer of every conversation is broken JSON, to exercise the retry with the error message.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any


class OpenAiServer:
    def __init__(self, *, always_invalid: bool = False) -> None:
        self.always_invalid = always_invalid
        self.requests: list[dict[str, Any]] = []
        self.server: asyncio.Server | None = None
        self.port = 0
        self.connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{self.port}/v1"

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            for writer in self.connections.values():
                writer.close()  # kept-alive client connections end: their handlers see EOF
            await asyncio.gather(*self.connections, return_exceptions=True)
            await self.server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.connections[task] = writer
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status, payload = self._answer(lines[0], body)
                data = json.dumps(payload).encode()
                head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
                writer.write(head.encode() + data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionResetError):
            pass
        finally:
            writer.close()
            self.connections.pop(task, None)

    def _answer(self, request_line: str, body: bytes) -> tuple[str, dict[str, Any]]:
        if not request_line.startswith("POST") or "/chat/completions" not in request_line:
            return "404 Not Found", {"error": {"message": "not found"}}
        request = json.loads(body)
        self.requests.append(request)
        messages = request["messages"]
        retried = any("not valid" in m["content"] for m in messages if m["role"] == "user")
        content = "{not json" if self.always_invalid or not retried else json.dumps(_lesson(messages))
        return "200 OK", {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": 0,
            "model": request["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }


def _lesson(messages: list[dict[str, str]]) -> dict[str, Any]:
    first_ask = next(m["content"] for m in messages if m["role"] == "user")
    excerpts = json.loads(first_ask.split("Excerpts:\n", 1)[1])
    items = []
    for e in excerpts[:4]:
        for line in e["text"].splitlines():
            sentence = re.sub(r"^[\d.]+\s+", "", line)  # the step number is not part of the rule
            if len(sentence.split()) >= 5:
                items.append({"text": sentence, "cites": [e["id"]]})
    first = items[0] if items else {"text": "", "cites": []}
    word = max(re.findall(r"[A-Za-z]{4,}", first["text"]) or ["rule"], key=len)
    return {
        "objectives": items[:2],
        "explanation": items,
        "vocabulary": [{"term": word, "gloss": first["text"], "cites": first["cites"]}],
        "dialogue": [{"speaker": "Trainer", "text": i["text"], "cites": i["cites"]} for i in items[:2]],
        "exercises": [
            {
                "prompt": "Fill the gap: " + first["text"].replace(word, "____", 1),
                "answer": word,
                "cites": first["cites"],
            }
        ],
        "quiz": [
            {
                "prompt": "Which word completes the sentence? " + first["text"].replace(word, "____", 1),
                "options": [word, "banana"],
                "correct": [0],
                "cites": first["cites"],
            },
            {"prompt": "A question with a bad answer index", "options": ["a", "b"], "correct": [5], "cites": []},
        ],
    }
