"""Cards and outline rows rendered in Python.

A tree page may show hundreds of nodes, nested; a recursive template include costs far more per
node than building the same markup here (see bench/tree.py). The markup is the one the templates
`opportunities/tree.html` and `outline.html` describe; every value goes through `escape`.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .queries import TreeRow


def _score(row: TreeRow) -> str:
    score = row.score
    return "" if score is None else f"{score:g}"


def _evidence(row: TreeRow) -> list[str]:
    """An "Assumption" badge for an opportunity no insight supports, or its number of insights."""
    if row.assumption:
        return ['<span class="badge badge-assumption" title="No insight supports it yet">Assumption</span>']
    if row.insight_count:
        n = row.insight_count
        return [
            f'<span class="evidence-count" title="Insights attached as evidence">{n} insight{"s" if n != 1 else ""}</span>'
        ]
    return []


class NodeUrls:
    """URL builders that reverse once per page, not once per node."""

    def __init__(self, slug: str):
        self.node = reverse("opportunities:node", args=[slug, 0]).replace("/0/", "/{}/")

    def node_url(self, node_id: int) -> str:
        return self.node.format(node_id)


def tree_nodes(rows: list[TreeRow], *, slug: str, can_edit: bool) -> SafeString:
    """`<li>` cards for `rows` and, recursively, their open children."""
    urls = NodeUrls(slug)
    out: list[str] = []
    _cards(rows, urls, can_edit, out)
    return mark_safe("".join(out))  # noqa: S308 - every value above is escaped


def _cards(rows: list[TreeRow], urls: NodeUrls, can_edit: bool, out: list[str]) -> None:
    drag = ' draggable="true"' if can_edit else ""
    for row in rows:
        title = escape(row.title)
        url = urls.node_url(row.id)
        match = " is-match" if row.match else ""
        out.append('<li class="tnode">')
        out.append(
            f'<div class="node-card kind-{row.kind}{match}" id="node-{row.id}" '
            f'data-node-id="{row.id}" data-kind="{row.kind}" data-version="{row.version}"{drag}>'
        )
        score = _score(row)
        out.append(
            f'<div class="node-top"><span class="kind-chip kind-{row.kind}">{row.kind_label}</span>'
            + (f'<span class="score" title="RICE score">{score}</span>' if score else "")
            + "</div>"
        )
        out.append(
            f'<a class="node-title" href="{url}" hx-get="{url}" hx-target="#panel" hx-swap="outerHTML">{title}</a>'
        )
        meta = [f'<span class="badge badge-{row.status}">{escape(row.status_label)}</span>']
        meta.extend(_evidence(row))
        if row.owner:
            meta.append(f"<span>@{escape(row.owner)}</span>")
        if row.lane_label:
            meta.append(f'<span class="lane-chip">{row.lane_label}</span>')
        out.append(f'<div class="node-meta">{"".join(meta)}</div>')
        if row.numchild:
            opened = row.open
            out.append(
                f'<button type="button" class="toggle" data-toggle="{row.id}" aria-controls="children-{row.id}" '
                f'aria-expanded="{"true" if opened else "false"}" '
                f'aria-label="{"Collapse" if opened else "Expand"} {row.numchild} under {title}">'
                f'<span aria-hidden="true">{"−" if opened else "+"}</span> {row.numchild}</button>'
            )
        out.append("</div>")
        if row.numchild:
            if row.open:
                out.append(f'<ul class="children" id="children-{row.id}">')
                _cards(row.children, urls, can_edit, out)
                out.append("</ul>")
            else:
                out.append(f'<ul class="children" id="children-{row.id}" data-lazy="1" hidden></ul>')
        out.append("</li>")


def outline_rows(rows: list[TreeRow], *, slug: str) -> SafeString:
    """`<li role=treeitem>` rows for `rows` and, recursively, their open children."""
    urls = NodeUrls(slug)
    out: list[str] = []
    _rows(rows, urls, out)
    return mark_safe("".join(out))  # noqa: S308 - every value above is escaped


def _rows(rows: list[TreeRow], urls: NodeUrls, out: list[str]) -> None:
    for row in rows:
        title = escape(row.title)
        url = urls.node_url(row.id)
        expanded = "true" if row.open else "false"
        out.append(
            f'<li role="treeitem" aria-level="{row.depth}"'
            + (f' aria-expanded="{expanded}"' if row.numchild else "")
            + ">"
        )
        out.append(f'<div class="outline-row{" is-match" if row.match else ""}">')
        if row.numchild:
            out.append(
                f'<button type="button" class="toggle toggle-small" data-toggle="{row.id}" data-view="outline" '
                f'aria-controls="children-{row.id}" aria-expanded="{expanded}" '
                f'aria-label="{"Collapse" if row.open else "Expand"} {title}">'
                f'<span aria-hidden="true">{"▾" if row.open else "▸"}</span></button>'
            )
        else:
            out.append('<span class="toggle-spacer"></span>')
        out.append(f'<span class="kind-dot kind-{row.kind}" title="{row.kind_label}"></span>')
        label = f"<mark>{title}</mark>" if row.match else title
        out.append(
            f'<a class="outline-title" href="{url}" hx-get="{url}" hx-target="#panel" hx-swap="outerHTML">{label}</a>'
        )
        meta = [
            f'<span class="muted small">{row.kind_label}</span>',
            f'<span class="badge badge-{row.status}">{escape(row.status_label)}</span>',
        ]
        meta.extend(_evidence(row))
        score = _score(row)
        if score:
            meta.append(f'<span class="score">{score}</span>')
        if row.owner:
            meta.append(f'<span class="muted small">@{escape(row.owner)}</span>')
        if row.lane_label:
            meta.append(f'<span class="lane-chip">{row.lane_label}</span>')
        out.append(f'<span class="outline-meta">{" ".join(meta)}</span></div>')
        if row.numchild:
            if row.open:
                out.append(f'<ul class="outline" id="children-{row.id}" role="group">')
                _rows(row.children, urls, out)
                out.append("</ul>")
            else:
                out.append(f'<ul class="outline" id="children-{row.id}" role="group" data-lazy="1" hidden></ul>')
        out.append("</li>")
