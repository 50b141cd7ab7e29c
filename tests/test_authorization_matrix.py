"""Who may do what, for every route there is.

The routes come from the URL configuration (HTML pages, htmx fragments, the API, the Django
admin), so a new route fails this test until it has a line in RULES. For each route and HTTP
method, six people ask: someone anonymous, someone holding a share link, a viewer, an editor and
an admin of the team, and an admin of another team. Each must get the answer in the table, and
the read-only ones (anonymous, share holder, viewer, other team) must change nothing in the
database.

A rule is one line: how to fill the route's URL, then one answer per person for each method, in
the order of PARTIES. `L` is a redirect to log in, `A` a redirect to the admin's log-in, a number
is that status. Writes are sent with a form holding no field of the view's (HTML) or with
`{"team": <slug>}` (API) unless the rule gives a body: enough to reach the permission check, and
for editors, a refusal of the incomplete input. A failure prints what the route answers now, in
the rule's format, to compare with what it should answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.apps import apps
from django.db import transaction
from django.test import Client
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone

from interviews.models import Insight, Interview, Persona
from metrics.models import RefreshRun
from opportunities import sharing
from opportunities.models import ShareLink
from portfolio.models import Adoption, Decision, Membership, Role
from reviews.models import ActionItem, Review, ReviewItem, ReviewStatus, Section
from tests.opportunities.roadmap_factories import RoadmapWorld, roadmap_world
from tests.portfolio.factories import AdoptionFactory, DecisionFactory

pytestmark = pytest.mark.django_db

PARTIES = ("anonymous", "share", "viewer", "editor", "admin", "outsider")
READ_ONLY = ("anonymous", "share", "viewer", "outsider")
HTML_METHODS = ("GET", "POST")
API_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

# Answers, one per party in PARTIES' order.
READ = "L L 200 200 200 404"  # a page of the team
GET_ONLY = "L L 405 405 405 404"  # a write method sent to a page that only reads
EDIT_FORM = "L L 403 200 200 404"  # an editor's form
EDIT_422 = "L L 403 422 422 404"  # an editor's form sent empty: refused, with the reasons
EDIT_302 = "L L 403 302 302 404"  # an editor's action: done, or refused with a message, then back to the page
EDIT_200 = "L L 403 200 200 404"
EDIT_POST_ONLY = "L L 403 405 405 404"  # GET of an editor's action
ADMIN_FORM = "L L 403 403 200 404"
ADMIN_422 = "L L 403 403 422 404"
ADMIN_302 = "L L 403 403 302 404"
ADMIN_POST_ONLY = "L L 403 403 405 404"
ADMIN_SITE = "A A A A A A"  # nobody here is staff
API_LIST = "401 401 200 200 200 200"  # the outsider gets their own teams' rows
API_READ = "401 401 200 200 200 404"
API_CREATE = "401 401 403 400 400 400"  # the outsider cannot name our team: "no such team"
API_ADMIN_CREATE = "401 401 403 403 400 400"
API_EDIT = "401 401 403 400 400 404"  # an incomplete body: editors get the reasons
API_ACTION = "401 401 403 200 200 404"
API_ADMINS_ONLY = "401 401 404 404 200 404"
API_ADMINS_400 = "401 401 404 404 400 404"
API_NOT_HERE = "401 401 405 405 405 405"  # a method the route does not have (checked before the object)
API_OBJECT = {
    "GET": API_READ,
    "POST": API_NOT_HERE,
    "PUT": API_EDIT,
    "PATCH": API_EDIT,
    "DELETE": "401 401 403 204 204 404",
}


def api_no(*methods: str) -> dict[str, str]:
    return dict.fromkeys(methods, API_NOT_HERE)


# Weekly reviews' drafts: the team's working space, which viewers cannot see (404).
API_DRAFT_READ = "401 401 404 200 200 404"
API_DRAFT_EDIT = "401 401 404 400 400 404"
API_DRAFT_ACTION = "401 401 404 200 200 404"

NOT_ALLOWED = dict.fromkeys(API_METHODS, "405 405 405 405 405 405")


@dataclass(frozen=True)
class Rule:
    """How to fill a route's URL (and its query string), and the answer of each party for each method."""

    kwargs: Callable[[World, str], dict[str, str]]
    answers: dict[str, str]
    query: Callable[[World], str] | None = None
    body: Callable[[World], dict] | None = None  # API writes: instead of {"team": <slug>}


def rule(
    kwargs: Callable[[World, str], dict[str, str]],
    query: Callable[[World], str] | None = None,
    body: Callable[[World], dict] | None = None,
    **answers: str,
) -> Rule:
    return Rule(kwargs, answers, query, body)


# URL values


@dataclass
class World:
    roadmap: RoadmapWorld
    token: str
    link: ShareLink
    adoption: Adoption
    decision: Decision
    membership: Membership
    persona: Persona
    interview: Interview
    insight: Insight
    run: RefreshRun
    reviews: ReviewsWorld

    @property
    def slug(self) -> str:
        return self.roadmap.team.slug


@dataclass
class ReviewsWorld:
    closed: Review  # last week's, which viewers may read
    draft: Review  # this week's, which viewers cannot see
    item: ReviewItem  # of the draft
    action: ActionItem  # raised in the draft


def reviews_world(team, by) -> ReviewsWorld:  # type: ignore[no-untyped-def]
    from reviews.services import current_week

    week = current_week(team)
    closed = Review.objects.create(
        team=team, week=week - timedelta(weeks=1), status=ReviewStatus.CLOSED, closed_at=timezone.now(), closed_by=by
    )
    draft = Review.objects.create(team=team, week=week)
    item = ReviewItem.objects.create(review=draft, section=Section.NORTH_STAR, key="metric:0", title="Orders")
    return ReviewsWorld(closed, draft, item, ActionItem.objects.create(team=team, review=draft, title="Call finance"))


def none(w: World, party: str) -> dict[str, str]:
    return {}


def team(**objects: Callable[[World], object]) -> Callable[[World, str], dict[str, str]]:
    """The team's slug plus the given values (functions of the world)."""
    return lambda w, party: {"slug": w.slug, **{name: str(get(w)) for name, get in objects.items()}}


def values(**objects: Callable[[World], object]) -> Callable[[World, str], dict[str, str]]:
    return lambda w, party: {name: str(get(w)) for name, get in objects.items()}


def share_token(w: World, party: str) -> dict[str, str]:
    """The link's token for everyone but the anonymous visitor, who guesses one."""
    return {"token": w.token if party != "anonymous" else sharing.secrets.token_urlsafe(32)}


NODE = team(pk=lambda w: w.roadmap.nodes["A"].pk)
GOAL = team(pk=lambda w: w.roadmap.goal.pk)
PRODUCT = team(pk=lambda w: w.roadmap.product.pk)
DECISION = team(pk=lambda w: w.decision.pk)
METRIC = team(key=lambda w: w.roadmap.metric.key)
WAREHOUSE = team(pk=lambda w: w.roadmap.metric.warehouse_id)
INTERVIEW = team(pk=lambda w: w.interview.pk)
INSIGHT = team(pk=lambda w: w.insight.pk)
PERSONA = team(pk=lambda w: w.persona.pk)
REVIEW = team(pk=lambda w: w.reviews.closed.pk)
DRAFT = team(pk=lambda w: w.reviews.draft.pk)
DRAFT_ITEM = team(pk=lambda w: w.reviews.draft.pk, item_pk=lambda w: w.reviews.item.pk)
DRAFT_ACTION = team(pk=lambda w: w.reviews.draft.pk, action_pk=lambda w: w.reviews.action.pk)
API_PK = {
    "membership": lambda w: w.membership.pk,
    "goal": lambda w: w.roadmap.goal.pk,
    "data-product": lambda w: w.roadmap.product.pk,
    "adoption": lambda w: w.adoption.pk,
    "decision": lambda w: w.decision.pk,
    "node": lambda w: w.roadmap.nodes["A"].pk,
    "warehouse": lambda w: w.roadmap.metric.warehouse_id,
    "metric": lambda w: w.roadmap.metric.pk,
    "refresh-run": lambda w: w.run.pk,
    "persona": lambda w: w.persona.pk,
    "interview": lambda w: w.interview.pk,
    "insight": lambda w: w.insight.pk,
    "review": lambda w: w.reviews.closed.pk,
    "review-draft": lambda w: w.reviews.draft.pk,
    "review-item": lambda w: w.reviews.item.pk,
    "review-action": lambda w: w.reviews.action.pk,
}


def api(basename: str) -> Callable[[World, str], dict[str, str]]:
    return values(pk=API_PK[basename])


RULES: dict[str, Rule] = {
    # Outside any team
    "healthz": rule(none, GET="200 200 200 200 200 200", POST="200 200 200 200 200 200"),
    "login": rule(none, GET="200 200 302 302 302 302", POST="200 200 302 302 302 302"),
    "logout": rule(none, GET="405 405 405 405 405 405", POST="L L L L L L"),
    "favicon.ico": rule(none, GET="301 301 301 301 301 301", POST="301 301 301 301 301 301"),
    "api_token": rule(none, **{**NOT_ALLOWED, "POST": "400 400 400 400 400 400"}),
    "api_schema": rule(none, **{**NOT_ALLOWED, "GET": "200 200 200 200 200 200"}),
    "api_docs": rule(none, **{**NOT_ALLOWED, "GET": "200 200 200 200 200 200"}),
    "admin:login": rule(none, GET="200 200 200 200 200 200", POST="200 200 200 200 200 200"),
    "admin:logout": rule(none, GET="302 302 302 302 302 302", POST="302 302 302 302 302 302"),  # back to /admin/
    "admin:javascript-catalog": rule(
        none, GET="200 200 200 200 200 200", POST="405 405 405 405 405 405"
    ),  # treebeard's strings
    "portfolio:start": rule(none, GET="L L 302 302 302 302", POST="L L 302 302 302 302"),
    "portfolio:team_new": rule(none, GET="L L 200 200 200 200", POST="L L 422 422 422 422"),  # anyone may start a team
    # Portfolio
    "portfolio:home": rule(team(), GET=READ, POST=READ),
    "portfolio:vision": rule(team(), GET=READ, POST=READ),
    "portfolio:vision_text": rule(team(field=lambda w: "vision"), GET=EDIT_FORM, POST=EDIT_422),
    "portfolio:goals": rule(team(), GET=READ, POST=READ),
    "portfolio:goal_new": rule(team(), GET=EDIT_FORM, POST=EDIT_422),
    "portfolio:goal": rule(GOAL, GET=READ, POST=READ),
    "portfolio:goal_edit": rule(GOAL, GET=EDIT_FORM, POST=EDIT_422),
    "portfolio:goal_status": rule(GOAL, GET=EDIT_POST_ONLY, POST=EDIT_302),
    "portfolio:goal_archive": rule(GOAL, GET=EDIT_POST_ONLY, POST=EDIT_302),
    "portfolio:data_products": rule(team(), GET=READ, POST=READ),
    "portfolio:data_product_new": rule(team(), GET=EDIT_FORM, POST=EDIT_422),
    "portfolio:data_product": rule(PRODUCT, GET=READ, POST=READ),
    "portfolio:data_product_edit": rule(PRODUCT, GET=EDIT_FORM, POST=EDIT_422),
    "portfolio:adoption_new": rule(PRODUCT, GET=EDIT_POST_ONLY, POST=EDIT_422),
    "portfolio:adoption_edit": rule(
        team(pk=lambda w: w.roadmap.product.pk, adoption_pk=lambda w: w.adoption.pk), GET=EDIT_FORM, POST=EDIT_422
    ),
    "portfolio:decisions": rule(team(), GET=READ, POST=READ),
    "portfolio:decision_new": rule(team(), GET=EDIT_FORM, POST=EDIT_422),
    "portfolio:decision": rule(DECISION, GET=READ, POST=READ),
    "portfolio:decision_edit": rule(DECISION, GET=EDIT_FORM, POST=EDIT_422),
    "portfolio:members": rule(team(), GET=READ, POST=READ),
    "portfolio:member_add": rule(team(), GET=ADMIN_POST_ONLY, POST=ADMIN_422),
    "portfolio:member_change": rule(team(pk=lambda w: w.membership.pk), GET=ADMIN_POST_ONLY, POST=ADMIN_302),
    # The opportunity tree
    "opportunities:tree": rule(team(), GET=READ, POST=READ),
    "opportunities:outline": rule(team(), GET=READ, POST=READ),
    "opportunities:prioritise": rule(team(), GET=READ, POST=READ),
    "opportunities:node_new": rule(team(), GET=EDIT_FORM, POST=EDIT_422),
    "opportunities:export_json": rule(team(), GET=READ, POST=READ),
    "opportunities:export_csv": rule(team(), GET=READ, POST=READ),
    "opportunities:import": rule(team(), GET=EDIT_FORM, POST=EDIT_422),
    "opportunities:node": rule(NODE, GET=READ, POST=READ),
    "opportunities:branch": rule(NODE, GET=READ, POST=READ),
    "opportunities:node_edit": rule(NODE, GET=EDIT_FORM, POST=EDIT_422),
    "opportunities:node_status": rule(NODE, GET=EDIT_POST_ONLY, POST=EDIT_302),
    "opportunities:node_move": rule(NODE, GET=EDIT_POST_ONLY, POST=EDIT_302),
    "opportunities:node_delete": rule(NODE, GET=EDIT_FORM, POST=EDIT_422),
    "opportunities:node_evidence": rule(NODE, GET=READ, POST=GET_ONLY),
    "opportunities:node_evidence_attach": rule(NODE, GET=EDIT_POST_ONLY, POST=EDIT_422),
    "opportunities:node_evidence_unlink": rule(
        team(pk=lambda w: w.roadmap.nodes["A"].pk, insight_pk=lambda w: w.insight.pk),
        GET=EDIT_POST_ONLY,
        POST=EDIT_302,
    ),
    "opportunities:insight_attach": rule(INSIGHT, GET=EDIT_FORM, POST=EDIT_422),
    "opportunities:opportunity_from_insight": rule(INSIGHT, GET=EDIT_FORM, POST=EDIT_422),
    # The roadmap and its share links
    "opportunities:roadmap": rule(team(), GET=READ, POST=GET_ONLY),
    "opportunities:roadmap_timeline": rule(team(), GET=READ, POST=GET_ONLY),
    "opportunities:roadmap_print": rule(team(), GET=READ, POST=GET_ONLY),
    "opportunities:roadmap_csv": rule(team(), GET=READ, POST=GET_ONLY),
    "opportunities:roadmap_move": rule(NODE, GET=EDIT_POST_ONLY, POST=EDIT_302),
    "opportunities:share_links": rule(team(), GET=EDIT_FORM, POST=EDIT_422),
    "opportunities:share_link_revoke": rule(team(pk=lambda w: w.link.pk), GET=EDIT_POST_ONLY, POST=EDIT_302),
    "opportunities:shared_roadmap": rule(share_token, GET="404 200 200 200 200 200", POST="405 405 405 405 405 405"),
    # Metrics
    "metrics:catalogue": rule(team(), GET=READ, POST=GET_ONLY),
    "metrics:metric_new": rule(team(), GET=EDIT_FORM, POST=EDIT_422),
    "metrics:metric_preview": rule(team(), GET=EDIT_POST_ONLY, POST=EDIT_422),
    "metrics:metric": rule(METRIC, GET=READ, POST=GET_ONLY),
    "metrics:metric_edit": rule(METRIC, GET=EDIT_FORM, POST=EDIT_422),
    "metrics:metric_refresh": rule(METRIC, GET=EDIT_POST_ONLY, POST=EDIT_302),
    "metrics:metric_runs": rule(METRIC, GET=READ, POST=GET_ONLY),
    "metrics:metric_certify": rule(METRIC, GET=ADMIN_POST_ONLY, POST=ADMIN_302),
    "metrics:annotation_new": rule(METRIC, GET=EDIT_POST_ONLY, POST=EDIT_422),
    "metrics:warehouses": rule(team(), GET=ADMIN_FORM, POST=ADMIN_POST_ONLY),
    "metrics:warehouse_new": rule(team(), GET=ADMIN_FORM, POST=ADMIN_422),
    "metrics:warehouse_edit": rule(WAREHOUSE, GET=ADMIN_FORM, POST=ADMIN_422),
    "metrics:warehouse_delete": rule(WAREHOUSE, GET=ADMIN_FORM, POST="L L 403 403 409 404"),  # in use: refused
    "metrics:warehouse_test": rule(WAREHOUSE, GET=ADMIN_POST_ONLY, POST=ADMIN_302),
    # Discovery
    "interviews:synthesis": rule(team(), GET=READ, POST=READ),
    "interviews:interviews": rule(team(), GET=READ, POST=READ),
    "interviews:interview_new": rule(team(), GET=EDIT_FORM, POST=EDIT_422),
    "interviews:import": rule(team(), GET=EDIT_FORM, POST=EDIT_422),
    "interviews:interview": rule(INTERVIEW, GET=READ, POST=READ),
    "interviews:interview_edit": rule(INTERVIEW, GET=EDIT_FORM, POST=EDIT_422),
    "interviews:interview_delete": rule(INTERVIEW, GET=EDIT_FORM, POST=EDIT_302),
    "interviews:interview_insight_new": rule(INTERVIEW, GET=EDIT_POST_ONLY, POST=EDIT_422),
    "interviews:notes_preview": rule(team(), GET=EDIT_POST_ONLY, POST=EDIT_200),
    "interviews:insights": rule(team(), GET=READ, POST=READ),
    "interviews:insight_new": rule(team(), GET=EDIT_FORM, POST=EDIT_422),
    "interviews:insight": rule(INSIGHT, GET=READ, POST=READ),
    "interviews:insight_edit": rule(INSIGHT, GET=EDIT_FORM, POST=EDIT_422),
    "interviews:insight_delete": rule(INSIGHT, GET=EDIT_FORM, POST=EDIT_302),
    "interviews:personas": rule(team(), GET=READ, POST=READ),
    "interviews:persona_new": rule(team(), GET=EDIT_FORM, POST=EDIT_422),
    "interviews:persona": rule(PERSONA, GET=READ, POST=READ),
    "interviews:persona_edit": rule(PERSONA, GET=EDIT_FORM, POST=EDIT_422),
    "interviews:persona_delete": rule(PERSONA, GET=EDIT_FORM, POST=EDIT_302),
    # Weekly reviews: viewers read closed ones only; editors run them
    "reviews:list": rule(team(), GET=READ, POST=GET_ONLY),
    "reviews:start": rule(team(), GET=EDIT_POST_ONLY, POST=EDIT_302),
    "reviews:schedule": rule(team(), GET=EDIT_FORM, POST=EDIT_422),
    "reviews:review": rule(REVIEW, GET=READ, POST=GET_ONLY),
    "reviews:markdown": rule(REVIEW, GET=READ, POST=GET_ONLY),
    "reviews:print": rule(REVIEW, GET=READ, POST=GET_ONLY),
    "reviews:refresh": rule(DRAFT, GET=EDIT_POST_ONLY, POST=EDIT_302),
    "reviews:open": rule(DRAFT, GET=EDIT_POST_ONLY, POST=EDIT_302),
    "reviews:close": rule(DRAFT, GET=EDIT_FORM, POST=EDIT_422),  # not confirmed: refused
    "reviews:item_comment": rule(DRAFT_ITEM, GET=EDIT_POST_ONLY, POST=EDIT_302),  # no version: back, with why
    "reviews:item_override": rule(DRAFT_ITEM, GET=EDIT_POST_ONLY, POST=EDIT_302),
    "reviews:action_new": rule(DRAFT, GET=EDIT_POST_ONLY, POST=EDIT_422),
    "reviews:action_done": rule(DRAFT_ACTION, GET=EDIT_POST_ONLY, POST=EDIT_302),
    "reviews:action_opportunity": rule(DRAFT_ACTION, GET=EDIT_FORM, POST=EDIT_422),
    "reviews:action_edit": rule(DRAFT_ACTION, GET=EDIT_FORM, POST=EDIT_422),
    "reviews:action_delete": rule(DRAFT_ACTION, GET=EDIT_FORM, POST=EDIT_302),
    # The API. Writes carry {"team": <slug>} unless the rule gives a body: the permission check comes first.
    "api:api-root": rule(none, GET="401 401 200 200 200 200", **api_no("POST", "PUT", "PATCH", "DELETE")),
    "api:team-list": rule(none, GET=API_LIST, POST="401 401 400 400 400 400", **api_no("PUT", "PATCH", "DELETE")),
    "api:team-detail": rule(
        values(slug=lambda w: w.slug), GET=API_READ, PUT=API_EDIT, PATCH=API_EDIT, **api_no("POST", "DELETE")
    ),
    "api:membership-list": rule(none, GET=API_LIST, POST=API_ADMIN_CREATE, **api_no("PUT", "PATCH", "DELETE")),
    "api:membership-detail": rule(  # only a team's admins see its memberships
        api("membership"),
        GET=API_ADMINS_ONLY,
        PUT=API_ADMINS_ONLY,
        PATCH=API_ADMINS_ONLY,
        DELETE="401 401 404 404 204 404",
        **api_no("POST"),
    ),  # fmt: skip
    "api:goal-list": rule(none, GET=API_LIST, POST=API_CREATE, **api_no("PUT", "PATCH", "DELETE")),
    "api:goal-detail": rule(api("goal"), GET=API_READ, PUT=API_EDIT, PATCH=API_EDIT, **api_no("POST", "DELETE")),
    "api:goal-archive": rule(api("goal"), POST=API_ACTION, **api_no("GET", "PUT", "PATCH", "DELETE")),
    "api:goal-restore": rule(api("goal"), POST=API_ACTION, **api_no("GET", "PUT", "PATCH", "DELETE")),
    "api:data-product-list": rule(none, GET=API_LIST, POST=API_CREATE, **api_no("PUT", "PATCH", "DELETE")),
    "api:data-product-detail": rule(api("data-product"), **API_OBJECT),
    "api:adoption-list": rule(
        none,
        body=lambda w: {
            "data_product": w.roadmap.product.pk,
            "consuming_team": "Finance",
            "stage": "active",
            "since": "2026-01-05",
        },
        GET=API_LIST,
        POST="401 401 403 201 201 400",
        **api_no("PUT", "PATCH", "DELETE"),
    ),  # fmt: skip
    "api:adoption-detail": rule(api("adoption"), **{**API_OBJECT, "PATCH": "401 401 403 200 200 404"}),
    "api:decision-list": rule(none, GET=API_LIST, POST=API_CREATE, **api_no("PUT", "PATCH", "DELETE")),
    "api:decision-detail": rule(api("decision"), **API_OBJECT),
    "api:node-list": rule(none, GET=API_LIST, POST=API_CREATE, **api_no("PUT", "PATCH", "DELETE")),
    "api:node-tree": rule(
        none, query=lambda w: f"?team={w.slug}", GET=API_READ, **api_no("POST", "PUT", "PATCH", "DELETE")
    ),
    "api:node-detail": rule(api("node"), **API_OBJECT),
    "api:node-move": rule(api("node"), POST=API_EDIT, **api_no("GET", "PUT", "PATCH", "DELETE")),
    "api:node-subtree": rule(api("node"), GET=API_READ, **api_no("POST", "PUT", "PATCH", "DELETE")),
    "api:node-insights": rule(api("node"), POST=API_EDIT, **api_no("GET", "PUT", "PATCH", "DELETE")),
    "api:node-insight-unlink": rule(
        values(pk=API_PK["node"], insight_id=lambda w: w.insight.pk),
        DELETE="401 401 403 204 204 404",
        **api_no("GET", "POST", "PUT", "PATCH"),
    ),
    "api:warehouse-list": rule(none, GET=API_LIST, POST=API_ADMIN_CREATE, **api_no("PUT", "PATCH", "DELETE")),
    "api:warehouse-detail": rule(  # only a team's admins see its warehouses; one in use cannot be deleted
        api("warehouse"),
        GET=API_ADMINS_ONLY,
        PUT=API_ADMINS_400,
        PATCH=API_ADMINS_400,
        DELETE=API_ADMINS_400,
        **api_no("POST"),
    ),  # fmt: skip
    "api:warehouse-test-connection": rule(
        api("warehouse"), POST=API_ADMINS_ONLY, **api_no("GET", "PUT", "PATCH", "DELETE")
    ),
    "api:metric-list": rule(none, GET=API_LIST, POST=API_CREATE, **api_no("PUT", "PATCH", "DELETE")),
    "api:metric-preview": rule(
        none,
        body=lambda w: {"team": w.slug, "warehouse": w.roadmap.metric.warehouse_id, "sql": "SELECT 1"},
        POST=API_CREATE,
        **api_no("GET", "PUT", "PATCH", "DELETE"),
    ),  # fmt: skip
    "api:metric-detail": rule(api("metric"), **API_OBJECT),
    "api:metric-certify": rule(
        api("metric"), POST="401 401 403 403 400 404", **api_no("GET", "PUT", "PATCH", "DELETE")
    ),
    "api:metric-refresh": rule(
        api("metric"), POST="401 401 403 202 202 404", **api_no("GET", "PUT", "PATCH", "DELETE")
    ),
    "api:snapshot-list": rule(
        none, query=lambda w: f"?metric={w.roadmap.metric.pk}", GET=API_LIST, **api_no("POST", "PUT", "PATCH", "DELETE")
    ),
    "api:refresh-run-list": rule(none, GET=API_LIST, **api_no("POST", "PUT", "PATCH", "DELETE")),
    "api:refresh-run-detail": rule(api("refresh-run"), GET=API_READ, **api_no("POST", "PUT", "PATCH", "DELETE")),
    "api:persona-list": rule(none, GET=API_LIST, POST=API_CREATE, **api_no("PUT", "PATCH", "DELETE")),
    "api:persona-detail": rule(api("persona"), **API_OBJECT),
    "api:interview-list": rule(none, GET=API_LIST, POST=API_CREATE, **api_no("PUT", "PATCH", "DELETE")),
    "api:interview-detail": rule(api("interview"), **API_OBJECT),
    "api:insight-list": rule(none, GET=API_LIST, POST=API_CREATE, **api_no("PUT", "PATCH", "DELETE")),
    "api:insight-detail": rule(api("insight"), **API_OBJECT),
    # Weekly reviews: viewers read closed reviews only; a draft, its items and actions are 404 to them
    "api:review-list": rule(none, GET=API_LIST, **api_no("POST", "PUT", "PATCH", "DELETE")),
    "api:review-detail": rule(api("review"), GET=API_READ, **api_no("POST", "PUT", "PATCH", "DELETE")),
    "api:review-prepare": rule(
        none,
        body=lambda w: {"team": w.slug, "refresh": False},
        POST="401 401 403 200 200 400",  # the outsider cannot name our team
        **api_no("GET", "PUT", "PATCH", "DELETE"),
    ),
    "api:review-start": rule(api("review-draft"), POST=API_DRAFT_ACTION, **api_no("GET", "PUT", "PATCH", "DELETE")),
    "api:review-close": rule(api("review-draft"), POST=API_DRAFT_ACTION, **api_no("GET", "PUT", "PATCH", "DELETE")),
    "api:review-item-list": rule(none, GET=API_LIST, **api_no("POST", "PUT", "PATCH", "DELETE")),
    "api:review-item-detail": rule(  # PATCH without a version: editors get the reason
        api("review-item"), GET=API_DRAFT_READ, PATCH=API_DRAFT_EDIT, **api_no("POST", "PUT", "DELETE")
    ),
    "api:review-action-list": rule(none, GET=API_LIST, POST=API_CREATE, **api_no("PUT", "PATCH", "DELETE")),
    "api:review-action-detail": rule(
        api("review-action"),
        GET=API_DRAFT_READ,
        PUT=API_DRAFT_EDIT,
        PATCH=API_DRAFT_EDIT,
        DELETE="401 401 404 204 204 404",
        **api_no("POST"),
    ),
}
# Every route of the Django admin (named or not) but its log-in and log-out: only staff get in.
PREFIX_RULES = {
    "admin:": rule(none, GET=ADMIN_SITE, POST=ADMIN_SITE),
    "admin/": rule(none, GET=ADMIN_SITE, POST=ADMIN_SITE),
}


# The routes


@dataclass(frozen=True)
class Route:
    name: str | None
    pattern: str  # the full route, prefixes included

    @property
    def key(self) -> str:
        return self.name or self.pattern

    @property
    def is_api(self) -> bool:
        return self.pattern.startswith("api/")

    def rule(self) -> Rule | None:
        if self.key in RULES:
            return RULES[self.key]
        return next((r for prefix, r in PREFIX_RULES.items() if self.key.startswith(prefix)), None)


def all_routes() -> list[Route]:
    found: list[Route] = []

    def walk(patterns: list, prefix: str, namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = ":".join(part for part in (namespace, pattern.namespace) if part)
                walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
            elif isinstance(pattern, URLPattern):
                name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
                found.append(Route(name, prefix + str(pattern.pattern)))

    walk(get_resolver().url_patterns, "", "")
    return found


ROUTES = all_routes()
FILLERS = {"format": "json", "url": "not-a-page/", "app_label": None}


def concrete_path(route: Route, given: dict[str, str]) -> str:
    """The route's pattern with its parts filled: the rule's values, else a harmless "1"."""

    def named(match: re.Match) -> str:
        name = match.group("name")
        if name in given:
            return given[name]
        if FILLERS.get(name):
            return FILLERS[name]
        alternatives = match.groupdict().get("regex")
        return alternatives.split("|")[0] if alternatives and "|" in alternatives else "1"

    path = re.sub(r"\(\?P<(?P<name>\w+)>(?P<regex>[^)]*)\)", named, route.pattern)
    path = path.replace("<drf_format_suffix:format>", ".json")
    path = re.sub(r"<(?:\w+:)?(?P<name>\w+)>", named, path)
    path = path.replace("([^/]+)", "1").replace("^", "").replace("$", "").replace("\\.", ".").replace("/?", "/")
    return "/" + path


def resolves_to(path: str, route: Route) -> bool:
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return match.route.replace("^", "") == route.pattern.replace("^", "")


# The parties


@pytest.fixture
def world(team, other_team, people) -> World:
    roadmap = roadmap_world(team, people, other_team)
    link, token = sharing.share_link_create(team=team, label="Leadership", by=people["editor"])
    persona = Persona.objects.create(team=team, name="Merchandiser")
    interview = Interview.objects.create(team=team, held_on=date(2026, 9, 1), interviewee_name="Sam", persona=persona)
    insight = Insight.objects.create(team=team, interview=interview, quote="I export everything to Excel.")
    return World(
        roadmap=roadmap,
        token=token,
        link=link,
        adoption=AdoptionFactory(data_product=roadmap.product),
        decision=DecisionFactory(team=team),
        membership=Membership.objects.get(team=team, user=people["viewer"], role=Role.VIEWER),
        persona=persona,
        interview=interview,
        insight=insight,
        run=RefreshRun.objects.create(metric=roadmap.metric),
        reviews=reviews_world(team, people["editor"]),
    )


def client_of(party: str, world: World, people: dict) -> Client:
    client = Client()
    if party == "share":
        assert client.get(f"/share/{world.token}/").status_code == 200  # holds the link, and nothing else
    elif party != "anonymous":
        client.force_login(people["admin" if party == "admin" else party])
    return client


def send(client: Client, method: str, path: str, route: Route, world: World, chosen: Rule):
    if route.is_api:
        data = chosen.body(world) if chosen.body else {"team": world.slug}
        body = json.dumps(data) if method in ("POST", "PUT", "PATCH") else ""
        return client.generic(method, path, body, content_type="application/json")
    body = "matrix=1" if method != "GET" else ""  # a form with no field of its own: bound, and incomplete
    return client.generic(method, path, body, content_type="application/x-www-form-urlencoded")


def outcome(response) -> str:
    if response.status_code in (301, 302):
        location = response.get("Location", "")
        if location.startswith("/admin/login/"):
            return "A"
        if location.startswith("/login/"):
            return "L"
    return str(response.status_code)


# Rows of every table that a request might touch; bookkeeping that reading does change is left out.
IGNORED_MODELS = {"sessions.session", "axes.accessattempt", "axes.accesslog", "axes.accessfailurelog"}
IGNORED_FIELDS = {"auth.user": {"last_login"}, "opportunities.sharelink": {"last_used_at"}}


def database() -> dict[str, list]:
    state = {}
    for model in apps.get_models(include_auto_created=True):
        label = model._meta.label_lower
        if label in IGNORED_MODELS:
            continue
        ignored = IGNORED_FIELDS.get(label, set())
        fields = [f.attname for f in model._meta.concrete_fields if f.attname not in ignored]
        state[label] = list(model.objects.order_by("pk").values_list(*fields))
    return state


def test_every_route_has_a_rule():
    missing = [f"{route.key}  ({route.pattern})" for route in ROUTES if route.rule() is None]
    assert not missing, "Classify these routes in RULES (tests/test_authorization_matrix.py):\n" + "\n".join(missing)


def test_no_rule_is_left_without_its_route():
    keys = {route.key for route in ROUTES}
    assert sorted(set(RULES) - keys) == []


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.key} {r.pattern}" if r.name else r.pattern)
def test_route_answers_each_party_as_the_rules_say_and_read_only_parties_change_nothing(route, world, people):
    chosen = route.rule()
    assert chosen is not None, f"No rule for {route.key} ({route.pattern}): classify it in RULES."
    methods = API_METHODS if route.is_api else HTML_METHODS
    wrong: list[str] = []
    actual: dict[str, list[str]] = {method: [] for method in methods}
    for method in methods:
        assert method in chosen.answers, f"The rule for {route.key} gives no answer for {method}."
        assert len(chosen.answers[method].split()) == len(PARTIES), f"{route.key} {method}: one answer per party"
    for party in PARTIES:
        path = concrete_path(route, chosen.kwargs(world, party))
        assert resolves_to(path, route), f"{path} does not resolve to {route.pattern}"
        if chosen.query:
            path += chosen.query(world)
        with transaction.atomic():
            before = database() if party in READ_ONLY else None
            for method in methods:
                expected = chosen.answers[method].split()[PARTIES.index(party)]
                got = outcome(send(client_of(party, world, people), method, path, route, world, chosen))
                actual[method].append(got)
                if got != expected:
                    wrong.append(f"{party:<9} {method:<6} {path}: expected {expected}, got {got}")
            if before is not None and database() != before:
                changed = [label for label, rows in database().items() if rows != before[label]]
                wrong.append(f"{party} changed {', '.join(changed)} through {path}")
            transaction.set_rollback(True)
    answers = ", ".join(f'{method}="{" ".join(got)}"' for method, got in actual.items())
    assert not wrong, f"{route.key} ({route.pattern}):\n" + "\n".join(wrong) + f"\nWhat it answers now: {answers}"
