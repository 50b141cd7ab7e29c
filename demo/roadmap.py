"""The demo roadmap: target dates over the coming quarters, and one share link for the leadership team.

Idempotent: target dates are set only when no item of the team has one yet, and the share link only
when the team has none with its label. The link's token is not printed and cannot be recovered (only
its hash is stored); make a new link from the roadmap's Share page to try one.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.utils import timezone

from opportunities import services, sharing
from opportunities.models import SCORED_KINDS, Lane, Node, ShareLink

SHARE_LABEL = "Leadership team (demo)"
# Weeks from today to each lane's first target, and between the targets of the lane's items.
LANE_WEEKS = {Lane.NOW: (2, 2), Lane.NEXT: (12, 3), Lane.LATER: (26, 5)}


def seed_roadmap(team, users: dict) -> None:
    today = timezone.localdate()
    items = Node.objects.filter(team=team, kind__in=SCORED_KINDS).exclude(lane=Lane.NONE).order_by("path")
    if not items.filter(target_date__isnull=False).exists():
        counts: dict[str, int] = {}
        for node in items:
            target = _target(node, today, counts)
            if target is not None:
                services.node_update(node=node, expected_version=node.version, by=users["pm"], target_date=target)
    if not ShareLink.objects.filter(team=team, label=SHARE_LABEL).exists():
        sharing.share_link_create(
            team=team,
            label=SHARE_LABEL,
            by=users["lead"],
            show_owners=True,
            expires_at=timezone.make_aware(datetime.combine(today + timedelta(days=91), time.min)),
        )


def _target(node: Node, today: date, counts: dict[str, int]) -> date | None:
    """Done items were due when they shipped; every second item in Later is not scheduled yet."""
    if node.lane == Lane.DONE:
        return node.shipped_on or today - timedelta(days=30)
    seen = counts[node.lane] = counts.get(node.lane, 0) + 1
    if node.lane == Lane.LATER and seen % 2 == 0:
        return None
    start, step = LANE_WEEKS[node.lane]
    return today + timedelta(weeks=start + step * (seen - 1))
