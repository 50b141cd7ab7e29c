"""Benchmark: the opportunity tree at 100, 1,000 and 5,000 nodes.

    .venv/bin/python bench/tree.py [--sizes 100,1000,5000] [--repeat 15]

For each size it measures the median server time (full Django stack, in process) of the tree
page, the outline, the tree API and a move of a 200-node subtree, beside two floors measured in
the same run: the framework floor (a trivial page through the same middleware) and the data
floor (the same nodes fetched with one raw SQL query and dumped to JSON). It prints a table and,
on its last line, every figure as one JSON object. (The floor page requires a signed-in user,
like every page measured, so it includes the session and user look-ups.) Targets at 5,000 nodes: tree API within 3x
the data floor, tree page and outline within 5x the data floor, a subtree move within 30x the
framework floor.

Uses a throwaway test database: SQLite unless DATABASE_URL points elsewhere.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.decorators import login_required  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from config.urls import urlpatterns as app_urlpatterns  # noqa: E402
from opportunities.models import Kind, Node  # noqa: E402
from portfolio.models import Membership, Role, Team  # noqa: E402

ALPHABET = Node.alphabet
STEPLEN = Node.steplen
SUBTREE = 200


@login_required
def trivial(request):
    """The framework floor: a signed-in person's request through the same middleware, doing nothing."""
    return HttpResponse("ok")


urlpatterns = [path("bench/trivial/", trivial), *app_urlpatterns]


def step(n: int) -> str:
    digits = ""
    while n:
        n, r = divmod(n, len(ALPHABET))
        digits = ALPHABET[r] + digits
    return digits.rjust(STEPLEN, ALPHABET[0])


class Builder:
    """Builds a team's tree with bulk inserts and hand-computed paths (fast at any size)."""

    def __init__(self, team: Team, first_root: int):
        self.team = team
        self.rows: list[Node] = []
        self.next_root = first_root
        self.children: dict[str, int] = {}

    def add(self, kind: str, title: str, parent: Node | None, **fields) -> Node:
        if parent is None:
            self.next_root += 1
            node_path, depth = step(self.next_root), 1
        else:
            self.children[parent.path] = self.children.get(parent.path, 0) + 1
            node_path, depth = parent.path + step(self.children[parent.path]), parent.depth + 1
        status = {"outcome": "active", "opportunity": "identified", "solution": "idea", "experiment": "planned"}[kind]
        node = Node(
            team=self.team, kind=kind, title=title, status=status, path=node_path, depth=depth, numchild=0, **fields
        )
        self.rows.append(node)
        return node

    def save(self) -> None:
        for node in self.rows:
            node.numchild = self.children.get(node.path, 0)
        Node.objects.bulk_create(self.rows, batch_size=1000)
        by_path = {n.path: n.pk for n in Node.objects.filter(team=self.team).only("id", "path")}
        updates = []
        for node in self.rows:
            if node.depth > 1:
                node.pk = by_path[node.path]
                node.parent_id = by_path[node.path[:-STEPLEN]]
                updates.append(node)
        Node.objects.bulk_update(updates, ["parent"], batch_size=1000)


def build(size: int, user) -> tuple[Team, int, int, int]:
    """A team whose tree has `size` nodes, including a 200-node subtree and two places to move it."""
    team = Team.objects.create(slug=f"bench-{size}", name=f"Bench {size}")
    Membership.objects.create(team=team, user=user, role=Role.EDITOR)
    last_root = Node.objects.filter(depth=1).order_by("-path").values_list("path", flat=True).first()
    first = int(last_root, len(ALPHABET)) if last_root else 0
    b = Builder(team, first)
    outcome = b.add(Kind.OUTCOME, "Outcome with the big branch", None)
    home = b.add(Kind.OPPORTUNITY, "Home of the branch", outcome)
    away = b.add(Kind.OPPORTUNITY, "Where the branch moves", outcome)
    mover = b.add(Kind.OPPORTUNITY, "The 200-node branch", home)
    made = 4
    while made < SUBTREE + 3:
        sol = b.add(Kind.SOLUTION, f"Solution {made}", mover, reach=100, impact="1", confidence=50, effort=2)
        made += 1
        for _ in range(2):
            if made < SUBTREE + 3:
                b.add(Kind.EXPERIMENT, f"Experiment {made}", sol)
                made += 1
    outcome_count = 0
    while made < size:
        outcome_count += 1
        root = b.add(Kind.OUTCOME, f"Outcome {outcome_count}", None)
        made += 1
        for i in range(12):
            if made >= size:
                break
            opp = b.add(
                Kind.OPPORTUNITY, f"Opportunity {made}", root, reach=50 + i, impact="2", confidence=80, effort=3
            )
            made += 1
            for _ in range(4):
                if made >= size:
                    break
                child = b.add(Kind.OPPORTUNITY, f"Opportunity {made}", opp)
                made += 1
                for _ in range(3):
                    if made >= size:
                        break
                    sol = b.add(Kind.SOLUTION, f"Solution {made}", child, reach=10, impact="1", confidence=50, effort=1)
                    made += 1
                    if made < size:
                        b.add(Kind.EXPERIMENT, f"Experiment {made}", sol)
                        made += 1
    b.save()
    ids = dict(
        Node.objects.filter(team=team, title__in=[home.title, away.title, mover.title]).values_list("title", "id")
    )
    return team, ids[mover.title], ids[home.title], ids[away.title]


def median_ms(fn, repeat: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 2)


def get(client, url: str):
    def run():
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return response

    return run


def data_floor(team: Team):
    sql = (
        "SELECT id, path, depth, numchild, kind, title, status, lane, reach, impact, confidence, effort, owner_id "
        "FROM opportunities_node WHERE team_id = %s ORDER BY path"
    )

    def run():
        with connection.cursor() as cursor:
            cursor.execute(sql, [team.pk])
            columns = [c[0] for c in cursor.description]
            rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        return json.dumps(rows, default=str)

    return run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    settings.ROOT_URLCONF = __name__
    old = setup_databases(verbosity=0, interactive=False)
    results: dict[str, dict] = {}
    try:
        user = get_user_model().objects.create_user("bench", password="bench-password-1")
        html, api = Client(), APIClient()
        html.force_login(user)
        api.force_authenticate(user)
        for size in map(int, args.sizes.split(",")):
            t0 = time.perf_counter()
            team, mover, home, away = build(size, user)
            built_s = time.perf_counter() - t0
            nodes = Node.objects.filter(team=team).count()
            targets = iter([away, home] * (args.repeat + 2))

            def move(mover: int = mover, targets=targets) -> None:
                response = api.post(f"/api/nodes/{mover}/move/", {"parent": next(targets)}, format="json")
                assert response.status_code == 200, response.content[:300]

            figures = {
                "nodes": nodes,
                "framework_floor_ms": median_ms(get(html, "/bench/trivial/"), args.repeat),
                "data_floor_ms": median_ms(data_floor(team), args.repeat),
                "tree_page_ms": median_ms(get(html, f"/t/{team.slug}/tree/"), args.repeat),
                "outline_ms": median_ms(get(html, f"/t/{team.slug}/tree/outline/"), args.repeat),
                "tree_api_ms": median_ms(get(api, f"/api/nodes/tree/?team={team.slug}"), args.repeat),
                "subtree_move_ms": median_ms(move, args.repeat),
            }
            data, framework = max(figures["data_floor_ms"], 0.01), max(figures["framework_floor_ms"], 0.01)
            figures["ratios"] = {
                "tree_api_vs_data_floor": round(figures["tree_api_ms"] / data, 2),
                "tree_page_vs_data_floor": round(figures["tree_page_ms"] / data, 2),
                "outline_vs_data_floor": round(figures["outline_ms"] / data, 2),
                "subtree_move_vs_framework_floor": round(figures["subtree_move_ms"] / framework, 2),
            }
            figures["build_s"] = round(built_s, 1)
            results[str(size)] = figures
            print(
                f"n={nodes:>5}  floors: framework {figures['framework_floor_ms']:>6} ms, data {figures['data_floor_ms']:>6} ms"
                f" | tree page {figures['tree_page_ms']:>7} ms ({figures['ratios']['tree_page_vs_data_floor']}x data)"
                f" | outline {figures['outline_ms']:>7} ms ({figures['ratios']['outline_vs_data_floor']}x)"
                f" | API {figures['tree_api_ms']:>7} ms ({figures['ratios']['tree_api_vs_data_floor']}x)"
                f" | move 200 {figures['subtree_move_ms']:>7} ms ({figures['ratios']['subtree_move_vs_framework_floor']}x framework)",
                file=sys.stderr,
            )
        largest = results[str(max(map(int, args.sizes.split(","))))]["ratios"]
        results["targets_met_at_largest"] = {
            "tree_api_within_3x_data_floor": largest["tree_api_vs_data_floor"] <= 3,
            "tree_page_within_5x_data_floor": largest["tree_page_vs_data_floor"] <= 5,
            "outline_within_5x_data_floor": largest["outline_vs_data_floor"] <= 5,
            "subtree_move_within_30x_framework_floor": largest["subtree_move_vs_framework_floor"] <= 30,
        }
        results["database"] = connection.vendor
    finally:
        teardown_databases(old, verbosity=0)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
