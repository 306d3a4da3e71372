"""The OpenAPI document keeps the seeds' operationIds, schema names and titles."""

from __future__ import annotations

from typing import Any

import httpx

SEED_OPERATIONS = {
    ("post", "/v1/itsm/tickets"): "create_ticket",
    ("post", "/v1/itsm/tickets/bulk"): "bulk_create_tickets",
    ("post", "/v1/itsm/tickets/bulk/update"): "bulk_update_tickets",
}
SEED_TITLES = {
    "ITSMTicketCreateRequestModel": "ITSM Ticket Create Request",
    "ITSMTicketUpdateRequestModel": "ITSM Ticket Update Request",
    "ITSMTicketBulkCreateRequestModel": "ITSM Ticket Bulk Create Request",
    "ITSMTicketBulkUpdateRequestModel": "ITSM Ticket Bulk Update Request",
    "JobResponseModel": "JobResponseModel",
    "ErrorResponse": "ErrorResponse",
}


async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    spec: dict[str, Any] = (await client.get("/openapi.json")).json()
    return spec


async def test_seed_operation_ids_and_schema_titles(client: httpx.AsyncClient) -> None:
    spec = await openapi(client)
    for (method, path), operation_id in SEED_OPERATIONS.items():
        assert spec["paths"][path][method]["operationId"] == operation_id
    schemas = spec["components"]["schemas"]
    for name, title in SEED_TITLES.items():
        assert schemas[name]["title"] == title, name
    create = schemas["ITSMTicketCreateRequestModel"]
    assert create["required"] == ["name"]
    assert create["properties"]["type_id"]["deprecated"] is True
    bulk = schemas["ITSMTicketBulkCreateRequestModel"]["properties"]["tickets"]
    assert (bulk["minItems"], bulk["maxItems"]) == (1, 50)


async def test_async_bulk_endpoints_answer_202_and_document_their_errors(client: httpx.AsyncClient) -> None:
    spec = await openapi(client)
    for path in ("/v1/itsm/tickets/bulk", "/v1/itsm/tickets/bulk/update"):
        responses = spec["paths"][path]["post"]["responses"]
        assert "202" in responses and "200" not in responses
        for code in ("401", "404", "409", "413", "422", "500"):
            assert responses[code]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")


async def test_every_data_route_declares_the_tenant_headers(client: httpx.AsyncClient) -> None:
    spec = await openapi(client)
    for path, operations in spec["paths"].items():
        # OAuth callbacks are reached by the customer's browser; their signed state authenticates them.
        if not path.startswith("/v1/") or path.startswith(("/v1/admin", "/v1/oauth/")):
            continue
        for method, operation in operations.items():
            schemes = {name for requirement in operation.get("security", []) for name in requirement}
            assert {"API-Key", "Connection-ID"} <= schemes, f"{method.upper()} {path}"
            assert "401" in operation["responses"], f"{method.upper()} {path}"
