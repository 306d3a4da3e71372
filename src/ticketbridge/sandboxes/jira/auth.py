"""Who is calling: Basic email:api-token, the demo's static Bearer token, or a 3LO access token that the
gateway checked (`/ex/jira/{cloudId}/...` only: on the site URL a 3LO token is unknown, hence 401)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import Depends, Request

from ticketbridge.sandboxes.jira.errors import not_authenticated
from ticketbridge.sandboxes.jira.gateway import OAUTH_PRINCIPAL
from ticketbridge.sandboxes.jira.oauth import Principal
from ticketbridge.sandboxes.jira.runtime import RuntimeDep
from ticketbridge.sandboxes.jira.state import User


def current_user(request: Request, runtime: RuntimeDep) -> User:
    """The authenticated user; Jira's 401 for missing or wrong credentials (never saying which)."""
    principal: Principal | None = request.scope.get(OAUTH_PRINCIPAL)
    if principal is not None:
        member = runtime.site.users.get(principal.account_id)
        if member is None or not member.active:
            raise not_authenticated()
        return member
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    user = None
    if scheme.lower() == "basic":
        try:
            email, _, token = base64.b64decode(credentials, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise not_authenticated() from None
        user = runtime.site.user_by_api_token(email, token)
    elif scheme.lower() == "bearer":
        user = runtime.site.user_by_oauth_token(credentials.strip())
    if user is None or not user.active:
        raise not_authenticated()
    return user


UserDep = Annotated[User, Depends(current_user)]
