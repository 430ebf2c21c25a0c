"""`coursewright order`: a small client for sales systems on the NATS messaging API.

    coursewright order place --client Acme --title "Forklift safety" --cefr B1 --sop a.pdf --sop b.docx
    coursewright order status ORDER_ID --follow

It authenticates with the organisation's API key (or a sales member's access token: `--token`
or CW_API_TOKEN), sends small documents inside the request and larger ones by presigned upload,
and follows an order's progress as a bar. Every command carries an Idempotency-Key, and a request
nobody answered (a gateway stopped mid-request, or none up for a moment) is sent again under the
same key: one effect. Documents are checked for an accepted type before the order is placed; one
refused after that cancels the order it was for. `status --follow` exits 0 once a draft is ready
(or the order delivered) and 1 when the order failed or was cancelled.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import nats.errors
import typer
from rich.console import Console
from rich.progress import Progress

from domain.documents import media_type_of
from gateway.bootstrap import load_settings
from gateway.messaging.service import STATUS_HEADER, api_subject
from infra.errors import Unavailable
from infra.nats import NatsConnector
from schemas.orders import INLINE_DOCUMENT_BYTES

app = typer.Typer(help="Place and follow course orders over the NATS messaging API.", no_args_is_help=True)
console = Console()
FINISHED = ("draft_ready", "delivered", "cancelled", "failed")
UNSUCCESSFUL = ("cancelled", "failed")
ATTEMPTS = 4  # of a request nobody answered, under the same Idempotency-Key
ANSWER_SECONDS = 30.0
Token = Annotated[
    str, typer.Option(envvar="CW_API_TOKEN", help="an API key of the organisation (cwk_…) or an access token")
]


class ApiError(Exception):
    """A problem reply of the API, or no answer at all."""


class NoAnswer(ApiError):
    """No messaging service answered (none up, or each one tried stopped mid-request)."""


class OrderClient:
    def __init__(
        self, nc: Any, prefix: str, token: str, *, attempts: int = ATTEMPTS, answer_seconds: float = ANSWER_SECONDS
    ) -> None:
        self.nc = nc
        self.prefix = prefix
        self.headers = {"Authorization": f"Bearer {token}"}
        self.attempts = attempts
        self.answer_seconds = answer_seconds

    async def ask(self, subject: str, body: dict[str, Any], *, command: bool = True) -> dict[str, Any]:
        """The answer to one request; a command carries a fresh Idempotency-Key, and a request
        nobody answers is sent again (with that key) before giving up."""
        data = json.dumps(body).encode()
        headers = self.headers | ({"Idempotency-Key": f"cli-{uuid.uuid4()}"} if command else {})
        target = api_subject(self.prefix, subject)
        for attempt in range(1, self.attempts + 1):
            try:
                msg = await self.nc.request(target, data, timeout=self.answer_seconds, headers=headers)
                break
            except (nats.errors.TimeoutError, nats.errors.NoRespondersError) as e:
                if attempt == self.attempts:
                    raise NoAnswer(
                        f"no messaging service answered on {target} ({type(e).__name__}): is `coursewright up`"
                        f" (or `coursewright run messaging`) running on this NATS with CW_SUBJECT_PREFIX={self.prefix}?"
                    ) from None
                await asyncio.sleep(min(2.0**attempt / 4, 2.0))
        reply: dict[str, Any] = json.loads(msg.data)
        if int((msg.headers or {}).get(STATUS_HEADER, "500")) >= 400:
            raise ApiError(f"{reply.get('code')}: {reply.get('detail')}")
        return reply

    async def add_document(self, order_id: str, path: Path) -> dict[str, Any]:
        content = await asyncio.to_thread(path.read_bytes)
        if len(content) <= INLINE_DOCUMENT_BYTES:
            inline = {"order_id": order_id, "name": path.name, "content": base64.b64encode(content).decode()}
            return await self.ask("orders.documents.add", inline)
        begun = (await self.ask("orders.documents.begin", {"order_id": order_id}))["data"]
        request = urllib.request.Request(begun["url"], data=content, method="PUT")
        await asyncio.to_thread(lambda: urllib.request.urlopen(request, timeout=300).close())
        body: dict[str, Any] = {
            "order_id": order_id,
            "upload_id": begun["upload_id"],
            "name": path.name,
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        }
        return await self.ask("orders.documents.complete", body)


def _refused_type(path: Path) -> str | None:
    """Why the server would refuse the document's type (told by its content), or None."""
    if media_type_of(path.read_bytes()) is None:
        return f"{path.name} is not a PDF, DOCX, HTML, Markdown, text, PNG or JPEG document"
    return None


async def _connected(token: str, run: Callable[[OrderClient], Awaitable[None]]) -> None:
    settings = load_settings(quiet=True)
    try:
        nc = await NatsConnector(settings).connect("coursewright-order-client")
    except Unavailable as e:
        console.print(f"[bold red]error:[/] cannot reach NATS at {settings.nats_url} (CW_NATS_URL): {e}")
        raise typer.Exit(1) from None
    try:
        await run(OrderClient(nc, settings.subject_prefix, token))
    except ApiError as e:
        console.print(f"[bold red]error:[/] {e}")
        raise typer.Exit(1) from None
    finally:
        await nc.close()


@app.command("place")
def place(
    title: Annotated[str, typer.Option(help="the course's title")],
    client: Annotated[str, typer.Option(help="the client organisation")],
    cefr: Annotated[str, typer.Option(help="target CEFR level, A1-C2")],
    token: Token,
    sop: Annotated[list[Path] | None, typer.Option(exists=True, dir_okay=False, help="an SOP document")] = None,
    job_role: Annotated[str, typer.Option(help="the learners' job role")] = "staff",
    industry: Annotated[str, typer.Option(help="the learners' industry")] = "general",
    language: Annotated[str, typer.Option(help="the learners' language")] = "en",
    learners: Annotated[int, typer.Option(help="how many learners")] = 1,
    wanted_by: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: in 30 days)")] = None,
    notes: Annotated[str, typer.Option(help="free notes")] = "",
    accept: Annotated[bool, typer.Option(help="accept the documents for generation")] = True,
) -> None:
    """Place an order with its SOP documents; prints the order id."""
    for path in sop or []:
        if (why := _refused_type(path)) is not None:
            console.print(f"[bold red]error:[/] {why}; no order was placed")
            raise typer.Exit(1)

    async def run(api: OrderClient) -> None:
        body = {
            "client": client,
            "title": title,
            "cefr_level": cefr.upper(),
            "job_role": job_role,
            "industry": industry,
            "language": language,
            "learners": learners,
            "wanted_by": wanted_by or str(date.today() + timedelta(days=30)),
            "notes": notes,
        }
        order_id = (await api.ask("orders.place", body))["id"]
        try:
            for path in sop or []:
                added = await api.add_document(order_id, path)
                console.print(f"  {path.name}: {added['data']['media_type']}, sha256 {added['data']['sha256'][:12]}")
            if sop and accept:
                await api.ask("orders.accept", {"order_id": order_id})
        except ApiError as e:  # the order is not what was asked for: it does not stay open
            reason = f"its documents could not be attached: {e}"
            with contextlib.suppress(ApiError):
                await api.ask("orders.cancel", {"order_id": order_id, "reason": reason[:500]})
            raise ApiError(f"order {order_id} was cancelled, {reason}") from None
        print(order_id)

    asyncio.run(_connected(token, run))


@app.command("status")
def status(
    order_id: Annotated[str, typer.Argument(help="the order's id")],
    token: Token,
    follow: Annotated[bool, typer.Option("--follow", help="show progress until generation finishes")] = False,
) -> None:
    """Show an order's status; with --follow, a progress bar until it is drafted, cancelled or
    failed (exit status 1 for the last two)."""
    finished: dict[str, Any] = {}

    async def run(api: OrderClient) -> None:
        order = await api.ask("orders.get", {"order_id": order_id}, command=False)
        if not follow:
            console.print_json(json.dumps(order))
            return
        with Progress(console=console) as bar:
            task = bar.add_task(order["status"], total=None)
            while order["status"] not in FINISHED:
                progress = order.get("progress") or {}
                label = f"{order['status']} {progress.get('stage_name', '')}".strip()
                bar.update(
                    task, description=label, total=progress.get("of") or None, completed=progress.get("stage", 0)
                )
                await asyncio.sleep(1)
                try:
                    order = await api.ask("orders.get", {"order_id": order_id}, command=False)
                except NoAnswer:  # following outlasts a restart of the messaging processes
                    bar.update(task, description=f"{order['status']} (waiting for the messaging API)")
            done = (order.get("progress") or {}).get("of") or 1
            bar.update(task, description=order["status"], total=done, completed=done)
        finished.update(order)

    asyncio.run(_connected(token, run))
    if finished:
        console.print(_outcome(finished))
        if finished["status"] in UNSUCCESSFUL:
            raise typer.Exit(1)


def _outcome(order: dict[str, Any]) -> str:
    """One line on where a followed order ended."""
    line = f"{order['order_id']}: {order['status']}"
    if order.get("course_id"):
        line += f", course {order['course_id']}"
    if order["status"] == "failed" and order.get("failure"):
        failure = order["failure"]
        line += f" at stage {failure['stage']} ({failure['stage_name'] or 'before the first'}): {failure['reason']}"
        line += " (it may be retried: orders.retry)"
    if order["status"] == "cancelled" and order.get("cancel_reason"):
        line += f": {order['cancel_reason']}"
    return line
