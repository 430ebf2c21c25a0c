"""Managing an organisation's API keys, for either edge: who may (its admins, and platform
admins), and the key store's answers (`infra/apikeys.py`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from commands.errors import PermissionDenied
from commands.identity import read
from domain.errors import NotFound
from domain.identity import Organisation, OrganisationNotFound
from gateway.auth import Caller
from infra.apikeys import ApiKeys
from infra.eventlog import EventStore
from schemas import apikeys as k
from schemas.access import API_KEYS, Reach


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"


async def _admin(store: EventStore, caller: Caller, org_id: UUID) -> None:
    reach = API_KEYS.reach(caller.roles)
    if org_id != caller.org_id and (
        reach is not Reach.PLATFORM or not (await read(store, Organisation, org_id)).exists
    ):
        raise OrganisationNotFound(f"organisation {org_id} not found")
    if reach is Reach.NONE:
        raise PermissionDenied(f"managing API keys needs one of: {API_KEYS.describe()}")


async def create_key(store: EventStore, keys: ApiKeys, caller: Caller, req: k.CreateApiKey) -> k.NewApiKey:
    await _admin(store, caller, req.org_id)
    expires_at = datetime.now(UTC) + timedelta(days=req.expires_in_days)
    return await keys.create(req.org_id, req.name, req.role, expires_at, caller.user_id)


async def list_keys(store: EventStore, keys: ApiKeys, caller: Caller, req: k.ListApiKeys) -> k.ApiKeyList:
    await _admin(store, caller, req.org_id)
    return k.ApiKeyList(items=await keys.listed(req.org_id, include_revoked=req.include_revoked))


async def get_key(store: EventStore, keys: ApiKeys, caller: Caller, org_id: UUID, key_id: UUID) -> k.ApiKeyView:
    await _admin(store, caller, org_id)
    found = await keys.get(org_id, key_id)
    if found is None:
        raise ApiKeyNotFound(f"API key {key_id} not found")
    return found


async def revoke_key(store: EventStore, keys: ApiKeys, caller: Caller, req: k.RevokeApiKey) -> k.KeyRevoked:
    await _admin(store, caller, req.org_id)
    revoked = await keys.revoke(req.org_id, req.key_id, caller.user_id)
    if revoked is None:
        raise ApiKeyNotFound(f"API key {req.key_id} not found")
    return revoked
