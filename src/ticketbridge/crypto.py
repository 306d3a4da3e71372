"""Encryption at rest for vendor credentials (Fernet; MultiFernet so keys can rotate) and API-key hashing."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from ticketbridge.config import Settings

API_KEY_PREFIX = "tb_"
#: How much of a key is kept in clear to tell keys apart in listings.
API_KEY_DISPLAY_CHARS = 11
_SECRET_KEY_FILE_NAME = "secret.key"


class CredentialCipher:
    """Encrypts with the first key and decrypts with any, so a new key can be put first and old
    ciphertexts re-encrypted at leisure (`rotate`)."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one Fernet key is required")
        fernets = [Fernet(key.encode()) for key in keys]
        self._keys = [key.encode() for key in keys]
        self._primary = fernets[0]
        self._fernet = MultiFernet(fernets)

    def encrypt(self, data: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(data).encode()).decode()

    def decrypt(self, token: str) -> dict[str, Any]:
        try:
            result: dict[str, Any] = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as exc:
            raise ValueError("credentials cannot be decrypted with the configured keys") from exc
        return result

    def seal(self, data: bytes) -> bytes:
        """Any bytes kept at rest that may hold a secret (e.g. a replayed answer that shows an API key)."""
        return self._fernet.encrypt(data)

    def unseal(self, token: bytes) -> bytes:
        """ValueError when no configured key opens it (its key was retired)."""
        try:
            return self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise ValueError("the data cannot be decrypted with the configured keys") from exc

    def derived_keys(self, purpose: str) -> list[bytes]:
        """One key per secrets key, for `purpose` only (HMAC-SHA256 of the purpose under the key), in
        the keys' order: sign with the first, accept any, so signatures survive a rotation."""
        return [hmac.new(key, f"ticketbridge:{purpose}".encode(), hashlib.sha256).digest() for key in self._keys]

    def is_current(self, token: str) -> bool:
        """Whether the token is encrypted under the first key already (nothing to rotate)."""
        try:
            self._primary.decrypt(token.encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, token: str) -> str:
        """The same plaintext under the first key (its original timestamp kept); ValueError when no
        configured key decrypts it."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("credentials cannot be decrypted with the configured keys") from exc


def load_cipher(settings: Settings) -> CredentialCipher:
    """Keys come from TICKETBRIDGE_SECRETS_KEY, else TICKETBRIDGE_SECRETS_KEY_FILE; in embedded mode
    a key is generated once under the data directory so that `make demo` needs no set-up."""
    if settings.secrets_key is not None:
        return CredentialCipher(_split_keys(settings.secrets_key.get_secret_value()))
    if settings.secrets_key_file is not None:
        return CredentialCipher(_split_keys(settings.secrets_key_file.read_text()))
    if not settings.is_embedded:
        raise RuntimeError("TICKETBRIDGE_SECRETS_KEY or TICKETBRIDGE_SECRETS_KEY_FILE is required")
    path = settings.data_dir / _SECRET_KEY_FILE_NAME
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Fernet.generate_key().decode())
        path.chmod(0o600)
    return CredentialCipher(_split_keys(path.read_text()))


def _split_keys(raw: str) -> list[str]:
    return [part.strip() for part in raw.replace("\n", ",").split(",") if part.strip()]


def generate_api_key() -> str:
    """256 bits of randomness, URL-safe, with a recognisable prefix (secret scanners key on it)."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    return key[:API_KEY_DISPLAY_CHARS]


def token_fingerprint(token: str) -> str:
    """Eight hex characters of the token's SHA-256: tells tokens apart in an audit log, reveals nothing."""
    return hashlib.sha256(token.encode()).hexdigest()[:8]
