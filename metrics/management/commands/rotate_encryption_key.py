"""Re-encrypt every warehouse secret with the first key of SEXTANT_ENCRYPTION_KEYS.

Rotation: put a new key first in SEXTANT_ENCRYPTION_KEYS (keep the old one after it), restart,
run this command, then drop the old key. Running it again changes nothing.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from metrics import crypto
from metrics.models import Warehouse


class Command(BaseCommand):
    help = "Re-encrypt warehouse secrets with the newest key (idempotent). --new-key prints a fresh key."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--new-key", action="store_true", help="Print a new key to put first in the list.")

    def handle(self, *args, new_key=False, **options) -> None:  # type: ignore[no-untyped-def]
        if new_key:
            self.stdout.write(crypto.generate_key())
            return
        primary = Fernet(crypto._keys()[0].encode())
        rotated = unchanged = 0
        with transaction.atomic():
            for warehouse in Warehouse.objects.select_for_update().exclude(secret_ciphertext=""):
                try:
                    primary.decrypt(warehouse.secret_ciphertext.encode())
                    unchanged += 1
                    continue
                except InvalidToken:
                    pass
                try:
                    warehouse.secret_ciphertext = crypto.rotate(warehouse.secret_ciphertext)
                except crypto.SecretUnreadable:
                    raise CommandError(
                        f"No configured key reads the secret of warehouse {warehouse.pk} ({warehouse.name}): "
                        "add the key it was encrypted with back to SEXTANT_ENCRYPTION_KEYS."
                    ) from None
                warehouse.save(update_fields=["secret_ciphertext"])
                rotated += 1
        self.stdout.write(f"Re-encrypted {rotated} secret(s) with the newest key; {unchanged} already used it.")
