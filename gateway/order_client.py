"""`coursewright order`: a small client for sales systems on the NATS messaging API.

    coursewright order place --client Acme --title "Forklift safety" --cefr B1 --sop a.pdf --sop b.docx
    coursewright order status ORDER_ID --follow

It authenticates with the organisation's API key (or a sales member's access token: `--token`
or CW_API_TOKEN), sends small documents inside the request and larger ones by presigned upload,
and follows an order's progress as a bar.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress

from gateway.bootstrap import load_settings
from gateway.messaging.service import STATUS_HEADER, api_subject
from infra.nats import NatsConnector
from schemas.orders import INLINE_DOCUMENT_BYTES

app = typer.Typer(help="Place and follow course orders over the NATS messaging API.", no_args_is_help=True)
console = Console()
FINISHED = ("draft_ready", "delivered", "cancelled", "failed")
Token = Annotated[
    str, typer.Option(envvar="CW_API_TOKEN", help="an API key of the organisation (cwk_…) or an access token")
]


class ApiError(Exception):
    """A problem reply of the API."""


class OrderClient:
    def __init__(self, nc: Any, prefix: str, token: str) -> None:
        self.nc = nc
        self.prefix = prefix
        self.headers = {"Authorization": f"Bearer {token}"}

    async def ask(self, subject: str, body: dict[str, Any], **headers: str) -> dict[str, Any]:
        data = json.dumps(body).encode()
        msg = await self.nc.request(api_subject(self.prefix, subject), data, timeout=60, headers=self.headers | headers)
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


async def _connected(token: str, run: Any) -> None:
    settings = load_settings(quiet=True)
    nc = await NatsConnector(settings).connect("coursewright-order-client")
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
        for path in sop or []:
            added = await api.add_document(order_id, path)
            console.print(f"  {path.name}: {added['data']['media_type']}, sha256 {added['data']['sha256'][:12]}")
        if sop and accept:
            await api.ask("orders.accept", {"order_id": order_id})
        print(order_id)

    asyncio.run(_connected(token, run))


@app.command("status")
def status(
    order_id: Annotated[str, typer.Argument(help="the order's id")],
    token: Token,
    follow: Annotated[bool, typer.Option("--follow", help="show progress until generation finishes")] = False,
) -> None:
    """Show an order's status; with --follow, a progress bar until it is drafted, cancelled or failed."""

    async def run(api: OrderClient) -> None:
        order = await api.ask("orders.get", {"order_id": order_id})
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
                order = await api.ask("orders.get", {"order_id": order_id})
            bar.update(task, description=order["status"], completed=(order.get("progress") or {}).get("of", 1))
        console.print(
            f"{order_id}: {order['status']}" + (f", course {order['course_id']}" if order["course_id"] else "")
        )

    asyncio.run(_connected(token, run))
