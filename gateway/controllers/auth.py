"""Sign-up, sign-in, tokens, the signed-in user, passwords."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.params import FromPath, JSONBody
from msgspec import Meta

from commands.identity import reset_token_user
from domain.identity import email_claim_id
from gateway import people
from gateway.admin import maybe_bootstrap
from gateway.auth import authenticator_of
from gateway.dispatch import CallerDep, ServicesDep, body, command_of, dispatch, route
from schemas import identity as i
from schemas.results import CommandResult

RegisterBody = body(i.RegisterUser)
ChangePasswordBody = body(i.ChangePassword)
ProfileBody = body(i.UpdateProfile)
ResetRequestBody = body(i.RequestPasswordReset)
ResetBody = body(i.ResetPassword)
Answer = Response[CommandResult]
Req = Request[Any, Any, Any]
Token = Annotated[str, Meta(min_length=1, max_length=400)]


class LoginBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: Annotated[str, Meta(min_length=1, max_length=254, examples=["ada@example.com"])]
    password: Annotated[str, Meta(min_length=1, max_length=256)]
    org_id: FromPath[UUID] | None = None  # the organisation to act in; default: the first joined


class RefreshBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    refresh_token: Token
    org_id: FromPath[UUID] | None = None  # move the sign-in to another of the user's organisations


class LogoutBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    refresh_token: Token | None = None


class Accepted(msgspec.Struct, kw_only=True):
    detail: str


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    @route(
        post,
        "/register",
        summary="Register a user account",
        status=201,
        public=True,
        strict=True,
        description="Registers a user; the email address is unique. The registration whose "
        "address equals CW_BOOTSTRAP_ADMIN_EMAIL becomes the first platform admin.",
    )
    async def register(self, request: Req, services: ServicesDep, data: JSONBody[RegisterBody]) -> Answer:
        cmd = command_of(i.RegisterUser, data)
        assert isinstance(cmd, i.RegisterUser)
        # The claim stream's id is the actor: a retry under the same Idempotency-Key replays.
        answer = await dispatch(
            services,
            request,
            None,
            cmd,
            status=201,
            actor=email_claim_id(cmd.email),
            location=lambda r: f"/users/{r.id}",
        )
        await maybe_bootstrap(services, request, cmd.email, UUID(answer.content.id))
        return answer

    @route(
        post,
        "/login",
        summary="Sign in: a 15-minute access token and a refresh token",
        status=200,
        public=True,
        strict=True,
        replay=True,
    )
    async def login(self, request: Req, data: JSONBody[LoginBody]) -> i.TokenPair:
        return await authenticator_of(request).login(data.email, data.password, data.org_id)

    @route(
        post,
        "/refresh",
        summary="Rotate a refresh token (a reused one ends the sign-in)",
        status=200,
        public=True,
        replay=True,
    )
    async def refresh(self, request: Req, data: JSONBody[RefreshBody]) -> i.TokenPair:
        return await authenticator_of(request).renew(data.refresh_token, data.org_id)

    @route(post, "/logout", summary="Sign out: this sign-in's tokens stop working", status=204, replay=True)
    async def logout(self, request: Req, caller: CallerDep, data: JSONBody[LogoutBody]) -> None:
        auth = authenticator_of(request)
        await auth.logout(auth.claims(request).family, data.refresh_token)

    @route(get, "/me", summary="The signed-in user, organisation and roles", status=200)
    async def me(self, request: Req, services: ServicesDep, caller: CallerDep) -> i.Me:
        return await people.me(services, caller)

    @route(put, "/me/profile", summary="Update the signed-in user's name and bio")
    async def profile(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        data: JSONBody[ProfileBody],
    ) -> Answer:
        cmd = command_of(i.UpdateProfile, data)
        return await dispatch(services, request, caller, cmd, location=lambda r: f"/users/{r.id}")

    @route(post, "/password", summary="Change the password; every sign-in of the user ends")
    async def change_password(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        data: JSONBody[ChangePasswordBody],
    ) -> Answer:
        cmd = command_of(i.ChangePassword, data)  # the bus ends every sign-in of the user
        return await dispatch(services, request, caller, cmd, location=lambda r: f"/users/{r.id}")

    @route(
        post,
        "/password-reset",
        summary="Mail a single-use reset token",
        public=True,
        strict=True,
        description="Always answers 202 with the same body, whether or not the address is "
        "registered. The token expires after an hour.",
    )
    async def request_reset(
        self, request: Req, services: ServicesDep, data: JSONBody[ResetRequestBody]
    ) -> Response[Accepted]:
        cmd = command_of(i.RequestPasswordReset, data)
        assert isinstance(cmd, i.RequestPasswordReset)
        await dispatch(services, request, None, cmd, actor=email_claim_id(cmd.email))
        return Response(
            Accepted(detail="if the address is registered, a reset token is on its way"),
            status_code=202,
        )

    @route(
        post,
        "/password-reset/confirm",
        summary="Set a new password with a reset token",
        public=True,
        strict=True,
    )
    async def reset(self, request: Req, services: ServicesDep, data: JSONBody[ResetBody]) -> Answer:
        cmd = command_of(i.ResetPassword, data)
        assert isinstance(cmd, i.ResetPassword)
        user_id = reset_token_user(cmd.token)  # the bus ends every sign-in of the user
        return await dispatch(services, request, None, cmd, actor=user_id, location=lambda r: f"/users/{r.id}")
