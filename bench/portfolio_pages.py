"""Benchmark: SQL queries and time per portfolio page and list endpoint, at growing data sizes.

    .venv/bin/python bench/portfolio_pages.py [--sizes 10,100,1000] [--repeat 20]

Runs against a throwaway test database (SQLite unless DATABASE_URL says otherwise). The query
counts must not grow with the size; the times show what a page costs. This is where speed
goals are measured, never in timed tests. The last line holds every figure as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_databases, teardown_databases  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from portfolio.models import Adoption, DataProduct, Decision, Goal, Membership, Role, Team  # noqa: E402


def seed(size: int) -> tuple[Team, object]:
    from django.contrib.auth import get_user_model

    User = get_user_model()
    user = User.objects.create_user(f"bench{size}", password="x")
    team = Team.objects.create(slug=f"bench-{size}", name=f"Bench {size}", vision="**Fast**")
    Membership.objects.create(user=user, team=team, role=Role.EDITOR)
    start = date(2025, 1, 1)
    Goal.objects.bulk_create(
        Goal(
            team=team,
            title=f"Goal {i}",
            quarter="",
            starts_on=start + timedelta(days=90 * (i % 8)),
            ends_on=start + timedelta(days=90 * (i % 8) + 89),
            owner=user,
        )
        for i in range(size)
    )
    products = DataProduct.objects.bulk_create(
        DataProduct(team=team, name=f"Product {i}", owner=user) for i in range(size)
    )
    Adoption.objects.bulk_create(
        Adoption(data_product=p, consuming_team=f"Consumer {j}", since=start + timedelta(days=30 * j))
        for p in products[:50]
        for j in range(5)
    )
    Decision.objects.bulk_create(
        Decision(team=team, title=f"Decision {i}", decision="Do it", decided_on=start + timedelta(days=i % 500))
        for i in range(size)
    )
    return team, user


def measure(client, url: str, repeat: int) -> tuple[int, float]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    queries = len(ctx.captured_queries)  # now: the next request clears the log
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
    return queries, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    old = setup_databases(verbosity=0, interactive=False)
    try:
        print(f"{'page':<38}" + "".join(f"{'n=' + s:>22}" for s in args.sizes.split(",")))
        rows: dict[str, list[str]] = {}
        figures: dict[str, dict[str, dict[str, float]]] = {}
        for size in map(int, args.sizes.split(",")):
            team, user = seed(size)
            html, api = Client(), APIClient()
            html.force_login(user)
            api.force_authenticate(user)
            product = team.data_products.first()
            pages = {
                "home": (html, f"/t/{team.slug}/"),
                "goals": (html, f"/t/{team.slug}/goals/"),
                "data products": (html, f"/t/{team.slug}/data-products/"),
                "data product (with adoption)": (html, f"/t/{team.slug}/data-products/{product.pk}/"),
                "decisions": (html, f"/t/{team.slug}/decisions/"),
                "API goals": (api, f"/api/goals/?team={team.slug}"),
                "API data products": (api, f"/api/data-products/?team={team.slug}"),
                "API decisions": (api, f"/api/decisions/?team={team.slug}"),
            }
            for name, (client, url) in pages.items():
                queries, ms = measure(client, url, args.repeat)
                rows.setdefault(name, []).append(f"{queries:>3} q {ms:>8.1f} ms")
                figures.setdefault(name, {})[str(size)] = {"queries": queries, "median_ms": round(ms, 2)}
        for name, cells in rows.items():
            print(f"{name:<38}" + "".join(f"{c:>22}" for c in cells))
    finally:
        teardown_databases(old, verbosity=0)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
