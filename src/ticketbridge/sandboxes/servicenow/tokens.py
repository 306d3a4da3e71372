"""OAuth tokens of `/oauth_token.do`: opaque strings mapped to the account they act as, with expiry."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field


@dataclass
class Token:
    user_name: str
    client_id: str
    expires_at: float


@dataclass
class TokenStore:
    access_ttl_seconds: int
    refresh_ttl_seconds: int
    access: dict[str, Token] = field(default_factory=dict)
    refresh: dict[str, Token] = field(default_factory=dict)

    def issue(self, user_name: str, client_id: str, *, with_refresh: bool = True) -> dict[str, object]:
        now = time.time()
        access = secrets.token_urlsafe(64)
        self.access[access] = Token(user_name, client_id, now + self.access_ttl_seconds)
        answer: dict[str, object] = {"access_token": access}
        if with_refresh:
            refresh = secrets.token_urlsafe(64)
            self.refresh[refresh] = Token(user_name, client_id, now + self.refresh_ttl_seconds)
            answer["refresh_token"] = refresh
        # ServiceNow answers one second less than the lifetime (1799 for 1800).
        return answer | {"scope": "useraccount", "token_type": "Bearer", "expires_in": self.access_ttl_seconds - 1}

    def user_of(self, access_token: str) -> str | None:
        token = self.access.get(access_token)
        if token is None or token.expires_at <= time.time():
            return None
        return token.user_name

    def redeem_refresh(self, refresh_token: str, client_id: str) -> Token | None:
        token = self.refresh.get(refresh_token)
        if token is None or token.client_id != client_id or token.expires_at <= time.time():
            return None
        return token

    def expire(self, *, refresh: bool = False) -> int:
        """Expires every access token (and refresh token when asked) now; answers how many."""
        count = 0
        for token in self.access.values():
            token.expires_at, count = 0, count + 1
        if refresh:
            for token in self.refresh.values():
                token.expires_at = 0
        return count
