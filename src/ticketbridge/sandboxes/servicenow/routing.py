"""The route class of every vendor operation: counts the call, authenticates, applies the rate limits,
renders ServiceNow's errors and puts the rate-limit headers on every answer, errors included."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from ticketbridge.sandboxes.servicenow.acl import authenticate
from ticketbridge.sandboxes.servicenow.errors import ServiceNowError, render, render_validation_error
from ticketbridge.sandboxes.servicenow.ratelimit import Resource
from ticketbridge.sandboxes.servicenow.runtime import Runtime

#: route name -> the REST API a rate-limit rule names
APIS = {"table": "Table API", "batch": "Batch API", "attachment": "Attachment API"}


def operation_name(request: Request, route_name: str) -> str:
    """`table.incident.POST`, `batch.POST`, `attachment.GET`, ..."""
    if route_name == "table":
        return f"table.{request.path_params.get('table', '')}.{request.method}"
    return f"{route_name}.{request.method}"


class ServiceNowRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        route_name = self.name

        async def run(request: Request) -> Response:
            runtime: Runtime = request.app.state.runtime
            runtime.calls.record(operation_name(request, route_name))
            headers: dict[str, str] = {}
            try:
                account = authenticate(runtime, request)
                request.state.account = account
                table = request.path_params.get("table")
                resource = Resource(APIS.get(route_name, route_name), table, request.method)
                headers = runtime.limiter.admit(resource, account.user_name)
                response = await handler(request)
            except ServiceNowError as exc:
                response = render(exc)
            except RequestValidationError as exc:
                response = await render_validation_error(request, exc)
            if request.method != "GET":
                runtime.save()
            for name, value in headers.items():
                response.headers.setdefault(name, value)
            return response

        return run
