"""`coursewright admin grant|create` (the operator's way to a platform admin) and `coursewright
demo`, on the composition root (gateway/bootstrap.py), through the command bus like any change."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import msgspec
import typer
from rich.console import Console

from domain.errors import DomainError
from gateway import admin, demo
from gateway.bootstrap import Root, load_settings
from gateway.services import Services

console = Console(stderr=True, highlight=False)
T = TypeVar("T")
admin_cli = typer.Typer(
    help="Platform admins (grant the role, or create an admin user) and platform auditors.", no_args_is_help=True
)


def _on_root(action: Callable[[Services], Awaitable[T]]) -> T:
    """Run `action` on a root built from the CW_ settings (configured servers, migrated database);
    a refusal ends the command with its message and exit code 1."""
    settings = load_settings(quiet=True)

    async def main() -> T:
        async with Root(settings) as root:
            return await action(root.services())

    try:
        return asyncio.run(main())
    except (DomainError, msgspec.ValidationError) as e:
        console.print(f"[bold red]error:[/] {e}")
        raise typer.Exit(1) from None


@admin_cli.command("grant")
def grant(email: Annotated[str, typer.Argument(help="the registered user's email address")]) -> None:
    """Make a registered user a platform admin (at any time: the shell is the operator's)."""
    _on_root(lambda services: admin.grant_platform_admin(services, email))
    console.print(f"{email} is a platform admin.")


@admin_cli.command("grant-auditor")
def grant_auditor(email: Annotated[str, typer.Argument(help="the registered user's email address")]) -> None:
    """Make a registered user a platform auditor: the audit of every organisation and of the
    whole log, read-only (they sign in again, or refresh, to carry the role)."""
    _on_root(lambda services: admin.grant_platform_auditor(services, email))
    console.print(f"{email} is a platform auditor.")


@admin_cli.command("revoke-auditor")
def revoke_auditor(email: Annotated[str, typer.Argument(help="the platform auditor's email address")]) -> None:
    """End a user's platform auditor role; their sign-ins end with it."""
    _on_root(lambda services: admin.revoke_platform_auditor(services, email))
    console.print(f"{email} is no longer a platform auditor.")


@admin_cli.command("create")
def create(
    email: Annotated[str, typer.Argument(help="the new admin's email address")],
    name: Annotated[str, typer.Option(help="the new admin's name")] = "Platform Admin",
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, envvar="CW_ADMIN_PASSWORD")
    ] = "",
) -> None:
    """Register a user and make them a platform admin (the password is asked for, or read from
    CW_ADMIN_PASSWORD)."""
    _on_root(lambda services: admin.create_platform_admin(services, email, name, password))
    console.print(f"{email} is registered and a platform admin.")


def demo_command() -> None:
    """Seed a demo: an organisation, a user of each role, a published course with enrolled
    students (a second run adds nothing)."""
    seeded = _on_root(demo.seed_demo)
    console.print(f"Demo organisation {demo.ORG_NAME} ({seeded.org_id}), course {seeded.course_id}.")
    console.print(f"Sign in as any of these with the password {demo.PASSWORD!r}:")
    for who, role in demo.PEOPLE:
        console.print(f"  {demo.email(who):45} {role or 'platform_admin'}")
