"""Share links: read-only access to a team's roadmap, or one outcome's part of it, without an account.

A link's token is 32 random bytes (`secrets.token_urlsafe`), shown once when the link is made.
Only its SHA-256 is stored, so the database never holds a usable token, and a lookup compares
digests (an index lookup on the hash: how close a guess came says nothing about the token).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from portfolio.models import Team

from .models import Node, ShareLink, ShareState

TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 100  # a real token is 43 characters; anything much longer is not worth hashing
USE_GRANULARITY = timedelta(minutes=1)  # last use is recorded at most this often per link


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def share_link_create(
    *,
    team: Team,
    label: str,
    by: AbstractBaseUser,
    outcome: Node | None = None,
    expires_at: datetime | None = None,
    show_owners: bool = False,
) -> tuple[ShareLink, str]:
    """A new link and its token. The token is not stored: show it now or never."""
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "Pick a day in the future, or leave it empty for a link that lasts."})
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = ShareLink(
        team=team,
        outcome=outcome,
        label=label,
        expires_at=expires_at,
        show_owners=show_owners,
        token_hash=token_digest(token),
        created_by=by,
    )
    link.full_clean()
    link._history_user = by  # type: ignore[attr-defined]
    link.save()
    return link, token


@transaction.atomic
def share_link_revoke(*, link: ShareLink, by: AbstractBaseUser) -> ShareLink:
    """Stop a link at once. Revoking a revoked link changes nothing."""
    current = ShareLink.objects.select_for_update().get(pk=link.pk)
    if current.revoked_at is not None:
        return current
    current.revoked_at = timezone.now()
    current.revoked_by = by
    current._history_user = by  # type: ignore[attr-defined]
    current.save(update_fields=["revoked_at", "revoked_by"])
    return current


def share_link_open(*, token: str) -> ShareLink | None:
    """The active link a token opens, or None (unknown, forged, truncated, revoked or expired).

    Records when the link was last used, at most once a minute, with one conditional UPDATE
    that skips the history (a visit is not an edit).
    """
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    link = ShareLink.objects.select_related("team", "outcome").filter(token_hash=token_digest(token)).first()
    now = timezone.now()
    if link is None or link.state_at(now) != ShareState.ACTIVE:
        return None
    if link.last_used_at is None or now - link.last_used_at >= USE_GRANULARITY:
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - USE_GRANULARITY)
        ShareLink.objects.filter(stale, pk=link.pk).update(last_used_at=now)
        link.last_used_at = now
    return link
