"""Organisations (tenants) and their members; platform admins."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody

from gateway import apikeys, people
from gateway.dispatch import CallerDep, ServicesDep, body, command_of, dispatch, route
from schemas import apikeys as k
from schemas import identity as i
from schemas.results import CommandResult

CreateOrganisationBody = body(i.CreateOrganisation)
RenameOrganisationBody = body(i.RenameOrganisation, "org_id")
AddMemberBody = body(i.AddMember, "org_id")
GrantPlatformAdminBody = body(i.GrantPlatformAdmin, "bootstrap")
CreateApiKeyBody = body(k.CreateApiKey, "org_id")
GrantPlatformAuditorBody = body(i.GrantPlatformAuditor)
Answer = Response[CommandResult]
Req = Request[Any, Any, Any]


def _org(r: CommandResult) -> str:
    return f"/organisations/{r.id}"


class OrganisationController(Controller):
    path = "/organisations"
    tags = ["organisations"]

    @route(post, "/", summary="Create an organisation (platform admins)", status=201)
    async def create(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        data: JSONBody[CreateOrganisationBody],
    ) -> Answer:
        cmd = command_of(i.CreateOrganisation, data)
        return await dispatch(services, request, caller, cmd, status=201, location=_org)

    @route(
        get,
        "/{org_id:uuid}",
        summary="The organisation and its members",
        status=200,
        description="For its org admins, course managers, trainers and auditors.",
    )
    async def show(self, services: ServicesDep, caller: CallerDep, org_id: FromPath[UUID]) -> i.OrganisationView:
        return await people.organisation(services, caller, org_id)

    @route(patch, "/{org_id:uuid}", summary="Rename the organisation")
    async def rename(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        org_id: FromPath[UUID],
        data: JSONBody[RenameOrganisationBody],
    ) -> Answer:
        cmd = command_of(i.RenameOrganisation, data, org_id=org_id)
        return await dispatch(services, request, caller, cmd, location=_org)

    @route(
        post,
        "/{org_id:uuid}/members",
        summary="Add a registered user, or set a member's roles",
        status=201,
    )
    async def add_member(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        org_id: FromPath[UUID],
        data: JSONBody[AddMemberBody],
    ) -> Answer:
        cmd = command_of(i.AddMember, data, org_id=org_id)
        return await dispatch(
            services,
            request,
            caller,
            cmd,
            status=201,
            location=lambda r: f"/users/{r.data.get('user_id', '')}",  # the member's profile
        )

    @route(
        delete,
        "/{org_id:uuid}/members/{user_id:uuid}",
        summary="Remove a member; their sign-ins end",
    )
    async def remove_member(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        org_id: FromPath[UUID],
        user_id: FromPath[UUID],
    ) -> Answer:
        cmd = i.RemoveMember(org_id=org_id, user_id=user_id)
        return await dispatch(services, request, caller, cmd, location=_org)  # the bus ends the sign-ins


class PlatformAdminController(Controller):
    path = "/platform-admins"
    tags = ["organisations"]

    @route(post, "/", summary="Make a user a platform admin (platform admins)")
    async def grant(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        data: JSONBody[GrantPlatformAdminBody],
    ) -> Answer:
        cmd = command_of(i.GrantPlatformAdmin, data)
        return await dispatch(services, request, caller, cmd, location=lambda r: f"/users/{r.id}")


class ApiKeyController(Controller):
    path = "/organisations/{org_id:uuid}/api-keys"
    tags = ["organisations"]

    @route(
        post,
        "/",
        summary="Create an API key for a machine client (org admins); its secret is shown this once",
        status=201,
        description="The key acts for the organisation with one role until it expires or is revoked; "
        "send it as `Authorization: Bearer <key>` (NATS or HTTP). Only its hash is stored, so a retried "
        "creation is not replayed: it makes another key.",
    )
    async def create_key(
        self, services: ServicesDep, caller: CallerDep, org_id: FromPath[UUID], data: JSONBody[CreateApiKeyBody]
    ) -> Response[k.NewApiKey]:
        req = k.CreateApiKey(org_id=org_id, **msgspec.structs.asdict(data))
        key = await apikeys.create_key(services.store, services.api_keys, caller, req)
        return Response(key, status_code=201, headers={"Location": f"/organisations/{org_id}/api-keys/{key.key_id}"})

    @route(get, "/", summary="The organisation's API keys, without their secrets (org admins)", status=200)
    async def list_keys(
        self, services: ServicesDep, caller: CallerDep, org_id: FromPath[UUID], include_revoked: FromQuery[bool] = False
    ) -> k.ApiKeyList:
        req = k.ListApiKeys(org_id=org_id, include_revoked=include_revoked)
        return await apikeys.list_keys(services.store, services.api_keys, caller, req)

    @route(get, "/{key_id:uuid}", summary="One API key, without its secret (org admins)", status=200)
    async def show_key(
        self, services: ServicesDep, caller: CallerDep, org_id: FromPath[UUID], key_id: FromPath[UUID]
    ) -> k.ApiKeyView:
        return await apikeys.get_key(services.store, services.api_keys, caller, org_id, key_id)

    @route(delete, "/{key_id:uuid}", summary="Revoke an API key: every process refuses it from now on", status=200)
    async def revoke_key(
        self, services: ServicesDep, caller: CallerDep, org_id: FromPath[UUID], key_id: FromPath[UUID]
    ) -> k.KeyRevoked:
        req = k.RevokeApiKey(org_id=org_id, key_id=key_id)
        return await apikeys.revoke_key(services.store, services.api_keys, caller, req)


class PlatformAuditorController(Controller):
    path = "/platform-auditors"
    tags = ["organisations"]

    @route(post, "/", summary="Make a user a platform auditor: every organisation's audit (platform admins)")
    async def grant(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        data: JSONBody[GrantPlatformAuditorBody],
    ) -> Answer:
        cmd = command_of(i.GrantPlatformAuditor, data)
        return await dispatch(services, request, caller, cmd, location=lambda r: f"/users/{r.id}")

    @route(delete, "/{user_id:uuid}", summary="End a user's platform auditor role; their sign-ins end")
    async def revoke(self, request: Req, services: ServicesDep, caller: CallerDep, user_id: FromPath[UUID]) -> Answer:
        cmd = i.RevokePlatformAuditor(user_id=user_id)
        return await dispatch(services, request, caller, cmd, location=lambda r: f"/users/{r.id}")
