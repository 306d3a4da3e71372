"""Credential encryption with key rotation."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from ticketbridge.crypto import CredentialCipher, display_prefix, generate_api_key


def test_a_new_primary_key_still_decrypts_old_ciphertexts_and_rotates_them() -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    old_token = CredentialCipher([old_key]).encrypt({"api_token": "s3cret"})
    rotated_cipher = CredentialCipher([new_key, old_key])
    assert rotated_cipher.decrypt(old_token) == {"api_token": "s3cret"}
    rotated = rotated_cipher.rotate(old_token)
    assert CredentialCipher([new_key]).decrypt(rotated) == {"api_token": "s3cret"}
    with pytest.raises(ValueError, match="cannot be decrypted"):
        CredentialCipher([old_key]).decrypt(rotated)


def test_api_keys_carry_256_bits_and_a_short_display_prefix() -> None:
    key = generate_api_key()
    assert key.startswith("tb_") and len(key) == 3 + 43
    assert key != generate_api_key()
    assert display_prefix(key) == key[:11]
