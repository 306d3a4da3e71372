"""Who is calling: Basic email:api-token or an OAuth 2.0 bearer token, as Jira Cloud accepts them."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import Depends, Request

from ticketbridge.sandboxes.jira.errors import not_authenticated
from ticketbridge.sandboxes.jira.runtime import RuntimeDep
from ticketbridge.sandboxes.jira.state import User


def current_user(request: Request, runtime: RuntimeDep) -> User:
    """The authenticated user; Jira's 401 for missing or wrong credentials (never saying which)."""
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
