"""Secrets encrypted at rest with Fernet (the `cryptography` package).

Keys come from SEXTANT_ENCRYPTION_KEYS, a comma-separated list: the first encrypts, every key
decrypts, so a new key is added in front, `manage.py rotate_encryption_key` re-encrypts every
secret with it, and the old key can then be dropped. With no key configured (the demo), one is
derived from DJANGO_SECRET_KEY.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnreadable(Exception):
    """No configured key decrypts this secret (a key was removed before rotating)."""


def _keys() -> tuple[str, ...]:
    keys = tuple(k.strip() for k in getattr(settings, "SEXTANT_ENCRYPTION_KEYS", []) if k.strip())
    if keys:
        return keys
    derived = hashlib.sha256(("sextant-secrets:" + settings.SECRET_KEY).encode()).digest()
    return (base64.urlsafe_b64encode(derived).decode(),)


@lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in keys])


def fernet() -> MultiFernet:
    return _fernet(_keys())


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("No configured encryption key can read this secret.") from None


def rotate(ciphertext: str) -> str:
    """The same secret encrypted with the first key (unchanged if it already is)."""
    try:
        return fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("No configured encryption key can read this secret.") from None


def generate_key() -> str:
    return Fernet.generate_key().decode()
