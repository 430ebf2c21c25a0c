"""Certificates over HTTP: the holder's list and PDF, revocation by an organisation admin, and
the public verification of a code (no account; limited per address against enumeration)."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody

from gateway.audit.sealer import trusted_keys
from gateway.certificate_pdf import render
from gateway.dispatch import CallerDep, ServicesDep, body, command_of, dispatch, route
from gateway.queries import Position
from projections.queries import certificates as cq
from schemas import certificates as cert
from schemas.results import CommandResult

RevokeBody = body(cert.RevokeCertificate, "certificate_id")
Req = Request[Any, Any, Any]


class CertificateController(Controller):
    path = "/certificates"
    tags = ["certificates"]

    @route(
        get,
        "/verify/{code:str}",
        summary="Verify a certificate by its code: valid, revoked or unknown, and what it certifies",
        status=200,
        public=True,
        strict=True,
        description="No account needed. Answers what the certificate certifies (holder's name, course, "
        "revision, organisation, date) and whether it stands, checking its Ed25519 signature; nothing "
        "else about the holder. Limited per client address, like sign-in.",
    )
    async def verify(self, services: ServicesDep, code: FromPath[str]) -> cert.Verification:
        trusted = trusted_keys(services.settings, services.ports.signer)
        return await cq.verify(services.reader, code, trusted)

    @route(post, "/{certificate_id:uuid}/revoke", summary="Revoke a certificate, saying why (organisation admins)")
    async def revoke(
        self,
        request: Req,
        services: ServicesDep,
        caller: CallerDep,
        certificate_id: FromPath[UUID],
        data: JSONBody[RevokeBody],
    ) -> Response[CommandResult]:
        cmd = command_of(cert.RevokeCertificate, data, certificate_id=certificate_id)
        return await dispatch(services, request, caller, cmd, location=lambda r: f"/me/certificates/{r.id}")


class MyCertificatesController(Controller):
    path = "/me/certificates"
    tags = ["certificates"]

    @route(get, "/", summary="The caller's certificates, newest first", status=200)
    async def mine(self, services: ServicesDep, caller: CallerDep, position: Position = None) -> cert.CertificateList:
        return await cq.my_certificates(services.reader, caller, position=position)

    @route(get, "/{certificate_id:uuid}", summary="One certificate (its holder and organisation admins)", status=200)
    async def one(
        self, services: ServicesDep, caller: CallerDep, certificate_id: FromPath[UUID], position: Position = None
    ) -> cert.CertificateView:
        return await cq.certificate(services.reader, caller, certificate_id, position=position)

    @route(
        get,
        "/{certificate_id:uuid}/pdf",
        summary="The certificate as a PDF, with its code and a QR link to its verification",
        status=200,
        media_type="application/pdf",
    )
    async def pdf(
        self, services: ServicesDep, caller: CallerDep, certificate_id: FromPath[UUID], position: Position = None
    ) -> Response[bytes]:
        view = await cq.certificate(services.reader, caller, certificate_id, position=position)
        url = services.settings.public_url.rstrip("/") + view.verify_url
        content = await asyncio.to_thread(render, view, url)  # CPU-bound: off the event loop
        return Response(
            content,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="certificate-{view.code}.pdf"'},
        )
