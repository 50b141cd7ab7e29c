"""Concurrent structural changes to one tree on PostgreSQL: the team lock keeps the paths sound."""

import threading

import pytest
from django.db import connection, connections

from opportunities import services
from opportunities.models import Kind, Node
from tests.opportunities.factories import add

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_parallel_moves_and_adds_leave_a_sound_tree(postgres, team, editor):
    outcome = add(team, editor, Kind.OUTCOME, "Outcome")
    hubs = [add(team, editor, Kind.OPPORTUNITY, f"Hub {i}", outcome) for i in range(4)]
    leaves = [add(team, editor, Kind.OPPORTUNITY, f"Leaf {i}", hubs[i % 4]) for i in range(24)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def work(worker: int) -> None:
        try:
            barrier.wait()
            for i, leaf in enumerate(leaves):
                if i % 4 == worker:
                    target = hubs[(i + worker + 1) % 4]
                    services.node_move(node=leaf, parent=target, by=editor)
                    add(team, editor, Kind.OPPORTUNITY, f"New {worker}-{i}", target)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert connection.vendor == "postgresql"
    problems = Node.objects.find_problems()
    assert all(not group for group in problems), problems
    assert Node.objects.filter(team=team).count() == 1 + 4 + 24 + 24
    for hub in hubs:
        hub = Node.objects.get(pk=hub.pk)
        children = Node.objects.filter(team=team, path__startswith=hub.path, depth=hub.depth + 1)
        assert hub.numchild == children.count()
        assert all(child.parent_id == hub.pk for child in children)
