"""Writes to the opportunity-solution tree: one function per use case, each in a transaction.

Structural changes (add, move, delete, import) lock the team row first, so two people moving
nodes of the same tree at once are applied one after the other and never corrupt the paths.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from interviews.models import Insight
from metrics import services as metric_services
from metrics.models import Metric
from portfolio.access import Action, require
from portfolio.models import DataProduct, Goal, Membership, Team
from portfolio.services import EditConflict, changes_since, versioned_update

from .models import ALLOWED_PARENTS, FIRST_STATUS, SCORED_KINDS, Evidence, Kind, Lane, Node, SolutionStatus

STEPLEN = Node.steplen

__all__ = [
    "EditConflict",
    "TreeRuleError",
    "node_create",
    "node_update",
    "node_move",
    "node_delete",
    "node_set_lane",
    "tree_import",
    "evidence_attach",
    "evidence_unlink",
    "node_create_from_insight",
]

NODE_FIELDS = (
    "title", "description", "status", "shipped_on", "owner", "goal", "data_product", "metric", "lane", "target_date",
    "reach", "impact", "confidence", "effort", "assumption", "method", "success_criterion", "result",
)  # fmt: skip
STRUCTURAL_FIELDS = ("path", "depth", "numchild")


class TreeRuleError(ValidationError):
    """A change that would break the tree's rules; the message says which and why."""


_KIND_PLURAL = {
    Kind.OUTCOME: "outcomes",
    Kind.OPPORTUNITY: "opportunities",
    Kind.SOLUTION: "solutions",
    Kind.EXPERIMENT: "experiments",
}


def _rule(kind: str, parent_kind: str | None) -> str | None:
    """Why a node of `kind` may not sit under `parent_kind`, or None if it may."""
    allowed = ALLOWED_PARENTS[kind]
    if parent_kind in allowed:
        return None
    plural = _KIND_PLURAL[kind].capitalize()
    if allowed == (None,):
        return f"{plural} are the roots of the tree: they cannot sit under another node."
    places = " or ".join("an " + k if k[0] in "aeiou" else "a " + k for k in allowed if k)
    where = f"under {_KIND_PLURAL[parent_kind]}" if parent_kind else "at the top of the tree"
    return f"{plural} cannot sit {where}: put them under {places}."


def _check_parent(*, node_kind: str, team_id: int, parent: Node | None) -> None:
    if parent is not None and parent.team_id != team_id:
        raise TreeRuleError({"parent": "The parent must be a node of this team's tree."})
    problem = _rule(node_kind, parent.kind if parent else None)
    if problem:
        raise TreeRuleError({"parent": problem})


def _lock_team(team_id: int) -> None:
    Team.objects.select_for_update().filter(pk=team_id).values_list("pk", flat=True).first()


def _prepare(node: Node) -> None:
    if not node.status:
        node.status = FIRST_STATUS.get(node.kind, "")
    if node.kind == Kind.SOLUTION and node.status == SolutionStatus.SHIPPED and not node.shipped_on:
        node.shipped_on = timezone.localdate()
    node.full_clean(exclude=STRUCTURAL_FIELDS)


def _siblings(team_id: int, parent: Node | None) -> list[Node]:
    siblings = Node.objects.filter(team_id=team_id).only("id", "path", "depth", "numchild", "team_id")
    if parent is None:
        return list(siblings.filter(depth=1).order_by("path"))
    return list(siblings.filter(path__startswith=parent.path, depth=parent.depth + 1).order_by("path"))


def _place(node: Node, *, team_id: int, parent: Node | None, position: int | None, new: bool) -> Node:
    """Insert (new) or move (existing) `node` as child number `position` of `parent` (None: a root)."""
    siblings = [s for s in _siblings(team_id, parent) if s.pk != node.pk]
    if position is None or position < 0 or position >= len(siblings):
        anchor, where = (siblings[-1], "right") if siblings else (parent, "last-child")
    else:
        anchor, where = siblings[position], "left"
    if new:
        if anchor is None:
            return Node.objects.add_root(instance=node)
        if where == "last-child":
            return Node.objects.add_child(anchor, instance=node)
        return Node.objects.add_sibling(anchor, where, instance=node)
    if anchor is None:
        # The team's first outcome: place it after the last root of the whole forest.
        Node.objects.move(node, Node.objects.get_last_root_node(), "right")
    else:
        Node.objects.move(node, anchor, where)
    return Node.objects.get(pk=node.pk)


@transaction.atomic
def node_create(
    *,
    team: Team,
    kind: str,
    title: str,
    by: AbstractBaseUser,
    parent: Node | None = None,
    position: int | None = None,
    **fields: Any,
) -> Node:
    """Add a node under `parent` (or as an outcome at the top), after checking the tree rules."""
    if kind not in Kind.values:
        raise ValidationError({"kind": "Pick outcome, opportunity, solution or experiment."})
    _lock_team(team.pk)
    if parent is not None:
        parent = Node.objects.get(pk=parent.pk)  # fresh path after the lock
    _check_parent(node_kind=kind, team_id=team.pk, parent=parent)
    node = Node(team=team, kind=kind, title=title, parent=parent, **fields)
    _prepare(node)
    node._history_user = by  # type: ignore[attr-defined]
    return _place(node, team_id=team.pk, parent=parent, position=position, new=True)


def node_update(*, node: Node, expected_version: int, by: AbstractBaseUser, **fields: Any) -> Node:
    """Edit a node's content (not its place in the tree); a stale version raises EditConflict."""
    unknown = set(fields) - set(NODE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable here: {', '.join(sorted(unknown))}")
    shipping = fields.get("status") == SolutionStatus.SHIPPED and node.kind == Kind.SOLUTION
    if shipping and not fields.get("shipped_on"):
        fields.setdefault("shipped_on", node.shipped_on or timezone.localdate())
    with transaction.atomic():
        if "lane" in fields and fields["lane"] != node.lane:
            fields["lane_position"] = _lane_end(node.team_id, fields["lane"])  # joins its new lane last
        was_shipped = Node.objects.filter(pk=node.pk, status=SolutionStatus.SHIPPED).exists()
        updated = versioned_update(node, expected_version=expected_version, by=by, fields=fields)
        if shipping and not was_shipped:
            annotate_shipped(updated, by=by)
        return updated


def annotate_shipped(solution: Node, *, by: AbstractBaseUser | None) -> None:
    """A shipped solution marks its day on the metric of the outcome it serves (once)."""
    outcome = Node.objects.filter(team_id=solution.team_id, path=solution.path[:STEPLEN], kind=Kind.OUTCOME).first()
    metric = solution.metric or (outcome.metric if outcome else None)
    if metric is None:
        return
    ref = f"node:{solution.pk}"
    if not metric.annotations.filter(source_ref=ref).exists():
        metric_services.annotation_add(
            metric=metric,
            day=solution.shipped_on or timezone.localdate(),
            text=f"Shipped: {solution.title}"[:300],
            by=by,
            source="shipped",
            source_ref=ref,
        )


@transaction.atomic
def node_move(
    *,
    node: Node,
    parent: Node | None,
    by: AbstractBaseUser,
    position: int | None = None,
    expected_version: int | None = None,
) -> Node:
    """Move a node and its whole subtree under `parent` at `position` (None: last)."""
    _lock_team(node.team_id)
    current = Node.objects.select_for_update().get(pk=node.pk)
    if expected_version is not None and current.version != expected_version:
        raise EditConflict(current, changes_since(current, expected_version))
    if parent is not None:
        parent = Node.objects.get(pk=parent.pk)
        if parent.pk == current.pk or parent.path.startswith(current.path):
            raise TreeRuleError({"parent": "A node cannot move under itself or one of its own descendants."})
    _check_parent(node_kind=current.kind, team_id=current.team_id, parent=parent)
    moved = _place(current, team_id=current.team_id, parent=parent, position=position, new=False)
    moved.parent = parent
    moved.version += 1
    moved._history_user = by  # type: ignore[attr-defined]
    moved.save(update_fields=["parent", "version", "updated_at"])
    return moved


# The roadmap: lanes and the order within them

ROADMAP_LANES = [lane for lane in Lane.values if lane != Lane.NONE]


def _lane_items(team_id: int, lane: str) -> list[Node]:
    """The roadmap items of a lane, in their order. One query."""
    return list(
        Node.objects.filter(team_id=team_id, lane=lane, kind__in=SCORED_KINDS)
        .only("id", "lane_position")
        .order_by("lane_position", "path")
    )


def _lane_end(team_id: int, lane: str) -> int:
    last = Node.objects.filter(team_id=team_id, lane=lane).order_by("-lane_position").first()
    return last.lane_position + 1 if last else 0


@transaction.atomic
def node_set_lane(
    *,
    node: Node,
    lane: str,
    by: AbstractBaseUser,
    position: int | None = None,
    before: int | None = None,
    expected_version: int | None = None,
) -> Node:
    """Put an opportunity or a solution in a roadmap lane at `position` (0 is the top; None: last).

    `before`, the id of a card of that lane, places it just above that card instead (a drop on
    a filtered board knows its neighbour, not its index). The lane "none" takes it off the
    roadmap. The lane's other cards are renumbered; their versions do not change (nobody edited
    them). A stale version raises EditConflict; nothing changes when it lands where it was.
    """
    if lane not in Lane.values:
        lanes = ", ".join(label.lower() for value, label in Lane.choices if value != Lane.NONE)
        raise ValidationError({"lane": f"There is no lane {lane!r} on the roadmap: pick {lanes}."})
    _lock_team(node.team_id)
    current = Node.objects.select_for_update().get(pk=node.pk)
    if expected_version is not None and current.version != expected_version:
        raise EditConflict(current, changes_since(current, expected_version))
    if current.kind not in SCORED_KINDS:
        raise ValidationError(
            {"lane": f"Only opportunities and solutions go on the roadmap, not {current.get_kind_display().lower()}s."}
        )
    if lane == Lane.NONE:
        if current.lane == Lane.NONE:
            return current
        current.lane, current.lane_position = lane, 0
    else:
        items = _lane_items(current.team_id, lane)
        others = [item for item in items if item.pk != current.pk]
        above = next((i for i, item in enumerate(others) if item.pk == before), None) if before else None
        if above is not None:
            position = above
        index = len(others) if position is None else max(0, min(position, len(others)))
        if current.lane == lane and items[index].pk == current.pk:
            return current  # dropped where it was
        others.insert(index, current)
        renumbered = []
        for number, item in enumerate(others):
            if item is not current and item.lane_position != number:
                item.lane_position = number
                renumbered.append(item)
        Node.objects.bulk_update(renumbered, ["lane_position"])
        current.lane, current.lane_position = lane, index
    current.version += 1
    current._history_user = by  # type: ignore[attr-defined]
    current.save(update_fields=["lane", "lane_position", "version", "updated_at"])
    return current


class DeleteMode:
    SUBTREE = "subtree"
    LIFT = "lift"  # the children move up to the deleted node's parent


@transaction.atomic
def node_delete(*, node: Node, by: AbstractBaseUser, mode: str = DeleteMode.SUBTREE) -> int:
    """Delete a node. With children, either the whole subtree or lift the children up a level.

    Returns how many nodes were deleted.
    """
    if mode not in (DeleteMode.SUBTREE, DeleteMode.LIFT):
        raise ValidationError({"mode": "Say 'subtree' to delete the children too, or 'lift' to keep them."})
    _lock_team(node.team_id)
    node = Node.objects.select_related("team").get(pk=node.pk)
    children = list(
        Node.objects.filter(team=node.team, path__startswith=node.path, depth=node.depth + 1).order_by("path")
    )
    if children and mode == DeleteMode.LIFT:
        parent = node.parent
        for child in children:
            if _rule(child.kind, parent.kind if parent else None):
                where = f"under {parent.title!r}" if parent else "at the top of the tree"
                raise TreeRuleError(
                    {
                        "mode": f"Its child {child.title!r} ({child.kind}) cannot sit {where}: delete the subtree instead, or move the children first."
                    }
                )
        index = [s.pk for s in _siblings(node.team_id, parent)].index(node.pk)
        for offset, child in enumerate(children):
            child = Node.objects.get(pk=child.pk)
            moved = _place(child, team_id=node.team_id, parent=parent, position=index + offset, new=False)
            moved.parent = parent
            moved.version += 1
            moved._history_user = by  # type: ignore[attr-defined]
            moved.save(update_fields=["parent", "version", "updated_at"])
        node = Node.objects.get(pk=node.pk)
    count = Node.objects.filter(team=node.team, path__startswith=node.path).count()
    node._history_user = by  # type: ignore[attr-defined]
    node.delete()
    return count


# Evidence: insights attached to opportunities and solutions


def _check_evidence(node: Node, insight: Insight, by: AbstractBaseUser) -> None:
    require(by, node.team, Action.EDIT)
    if insight.team_id != node.team_id:
        raise ValidationError({"insight": "That insight belongs to another team: attach insights of this team only."})


@transaction.atomic
def evidence_attach(*, node: Node, insight: Insight, by: AbstractBaseUser) -> tuple[Evidence, bool]:
    """Attach an insight to a node as evidence; (the link, whether it is new).

    Editors only, an insight of the node's own team, and opportunities and solutions only.
    Attaching it again changes nothing. The link keeps who attached it and when, and its
    history shows on the node. The node's version does not change: its content is untouched,
    so someone editing its text at the same time is not told of a conflict.
    """
    _check_evidence(node, insight, by)
    existing = Evidence.objects.filter(node=node, insight=insight).first()
    if existing is not None:
        return existing, False
    link = Evidence(node=node, insight=insight, attached_by=by)
    link.full_clean()
    link._history_user = by  # type: ignore[attr-defined]
    try:
        with transaction.atomic():
            link.save()
    except IntegrityError:  # someone attached it at the same moment
        return Evidence.objects.get(node=node, insight=insight), False
    return link, True


@transaction.atomic
def evidence_unlink(*, node: Node, insight: Insight, by: AbstractBaseUser) -> bool:
    """Detach an insight from a node; False when it was not attached (nothing to do). Recorded in history."""
    _check_evidence(node, insight, by)
    link = Evidence.objects.select_for_update().filter(node=node, insight=insight).first()
    if link is None:
        return False
    link._history_user = by  # type: ignore[attr-defined]
    link.delete()
    return True


@transaction.atomic
def node_create_from_insight(
    *, insight: Insight, parent: Node, title: str, by: AbstractBaseUser, description: str = ""
) -> Node:
    """A new opportunity under `parent` (an outcome or an opportunity), with the insight as its first evidence."""
    require(by, parent.team, Action.EDIT)
    if insight.team_id != parent.team_id:
        raise ValidationError({"parent": "Pick an outcome or an opportunity of the insight's team."})
    node = node_create(
        team=parent.team, kind=Kind.OPPORTUNITY, title=title, parent=parent, by=by, description=description
    )
    evidence_attach(node=node, insight=insight, by=by)
    return node


# Import (the JSON that `queries.tree_export` writes)

IMPORT_FIELDS = (
    "title", "description", "status", "shipped_on", "lane", "lane_position", "target_date", "reach", "impact",
    "confidence", "effort", "assumption", "method", "success_criterion", "result",
)  # fmt: skip


def _import_errors(items: Any, team: Team, lookups: dict[str, dict], where: str, parent_kind: str | None) -> list[str]:
    errors: list[str] = []
    if not isinstance(items, list):
        return [f"{where}: expected a list of nodes."]
    for i, item in enumerate(items):
        here = f"{where}[{i}]"
        if not isinstance(item, dict):
            errors.append(f"{here}: expected an object.")
            continue
        kind = item.get("kind")
        title = item.get("title") or "(untitled)"
        here = f"{here} {title!r}"
        if kind not in Kind.values:
            errors.append(f"{here}: unknown kind {kind!r}.")
            continue
        problem = _rule(kind, parent_kind)
        if problem:
            errors.append(f"{here}: {problem}")
        for key, table, label in (
            ("owner", "users", "member"),
            ("data_product", "products", "data product"),
            ("goal", "goals", "goal"),
            ("metric", "metrics", "metric"),
        ):
            value = item.get(key)
            if value and (not isinstance(value, str) or value not in lookups[table]):
                errors.append(f"{here}: no {label} {value!r} in this team.")
        node = Node(team=team, kind=kind, **{f: item[f] for f in IMPORT_FIELDS if item.get(f) not in (None,)})
        if not node.status:
            node.status = FIRST_STATUS[kind]
        try:
            node.full_clean(exclude=(*STRUCTURAL_FIELDS, "team", "owner", "goal", "data_product", "metric", "parent"))
        except ValidationError as error:
            errors.extend(f"{here}: {field}: {' '.join(msgs)}" for field, msgs in error.message_dict.items())
        errors.extend(_import_errors(item.get("children", []), team, lookups, f"{here} › children", kind))
    return errors


@transaction.atomic
def tree_import(*, team: Team, data: Any, by: AbstractBaseUser) -> int:
    """Add the outcomes (with everything under them) of an exported tree to the team's tree.

    Checks everything first; if any node is wrong, raises ValidationError listing each problem
    with where it is, and saves nothing. Returns the number of nodes created.
    """
    outcomes = data.get("outcomes") if isinstance(data, dict) else None
    if outcomes is None:
        raise ValidationError("This is not a Sextant tree export: it has no 'outcomes' list.")
    User = get_user_model()
    member_ids = Membership.objects.filter(team=team).values("user_id")
    lookups = {
        "users": {u.username: u for u in User.objects.filter(pk__in=member_ids)},
        "products": {p.name: p for p in DataProduct.objects.filter(team=team)},
        "goals": {g.title: g for g in Goal.objects.filter(team=team)},
        "metrics": {m.key: m for m in Metric.objects.filter(team=team)},
    }
    errors = _import_errors(outcomes, team, lookups, "outcomes", None)
    if errors:
        raise ValidationError(errors)
    _lock_team(team.pk)
    created = 0

    def add(items: list[dict], parent: Node | None) -> None:
        nonlocal created
        for item in items:
            node = Node(
                team=team,
                kind=item["kind"],
                parent=parent,
                owner=lookups["users"].get(item.get("owner") or ""),
                data_product=lookups["products"].get(item.get("data_product") or ""),
                goal=lookups["goals"].get(item.get("goal") or ""),
                metric=lookups["metrics"].get(item.get("metric") or ""),
                **{f: item[f] for f in IMPORT_FIELDS if item.get(f) is not None},
            )
            if not node.status:
                node.status = FIRST_STATUS[node.kind]
            node.full_clean(exclude=STRUCTURAL_FIELDS)
            node._history_user = by  # type: ignore[attr-defined]
            if parent is None:
                node = _place(node, team_id=team.pk, parent=None, position=None, new=True)
            else:
                node = Node.objects.add_child(parent, instance=node)
            created += 1
            if item.get("children"):
                add(item["children"], Node.objects.get(pk=node.pk))

    add(outcomes, None)
    return created
