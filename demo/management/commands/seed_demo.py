"""A realistic demo: the data team of a retailer, with goals, data products, adoption and decisions.

Idempotent: objects are found by their natural keys and only created when missing, so running it
twice neither fails nor duplicates anything. Writes go through the services, so history is real.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from demo.discovery import link_evidence, seed_discovery
from demo.metrics import seed_metrics
from demo.reviews import seed_reviews
from demo.roadmap import seed_roadmap
from demo.tree import seed_tree
from portfolio import services
from portfolio.models import (
    Adoption,
    AdoptionStage,
    DataProduct,
    DataProductKind,
    Decision,
    Goal,
    GoalStatus,
    LifecycleStage,
    Membership,
    Organization,
    Role,
    Team,
)

PASSWORD = "sextant-demo"
User = get_user_model()

USERS = [
    # username, first, last, team role in the data team, superuser
    ("admin", "Ada", "Okafor", Role.ADMIN, True),
    ("pm", "Priya", "Menon", Role.EDITOR, False),
    ("lead", "Lars", "Eriksen", Role.EDITOR, False),
    ("stakeholder", "Sam", "Taylor", Role.VIEWER, False),
    ("outsider", "Olga", "Novak", None, False),
]

ORG_VISION = """Northwind Outfitters helps people get outdoors with gear that lasts.

By 2028 we want **every decision about customers, stock and prices** to be made on data
that everyone in the company trusts and can read for themselves."""

TEAM_TEXTS = {
    "vision": """Every team at Northwind answers its own questions with **trusted, self-serve data**,
in minutes, not weeks.""",
    "mission": """We build and run the data products the company relies on (the orders and customer
datasets, the revenue dashboards, the demand forecast) and we treat the rest of the company as
our customers: we interview them, measure their adoption and retire what nobody uses.""",
    "strategy": """1. **Fewer, better data products.** Certify the datasets that matter; deprecate the rest.
2. **Self-serve first.** A metric defined once, in the catalogue, computed from the warehouse.
3. **Discovery every week.** At least two interviews a week with people who use our data.
4. **Close the loop.** Every shipped change names the metric it should move, and we check.""",
}


class Command(BaseCommand):
    help = "Create (or complete) the demo organisation, teams, users and portfolio."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            users = self._users()
            team, other = self._teams(users)
            org_goals = self._organization_goals()
            goals = self._goals(team, users, org_goals)
            self._data_products(team, users)
            products = {p.name: p for p in DataProduct.objects.filter(team=team)}
            nodes = seed_tree(team, users, goals, products)
            seed_discovery(team, users)
            link_evidence(team, users)
            metrics = seed_metrics(team, users, products, stream=self.stderr._out)
            seed_roadmap(team, users)
            self._decisions(team, users, goals)
            self._other_team(other, users)
        # Closing a review emails its summary when the transaction commits: the demo's stay in memory.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"), transaction.atomic():
            seed_reviews(team, users)
        grown = ", ".join(
            part for part in (f"{nodes} tree nodes" if nodes else "", f"{metrics} metrics" if metrics else "") if part
        )
        self.stdout.write(self.style.SUCCESS(f"Demo data ready{f' ({grown} added)' if grown else ''}."))
        self.stdout.write("Log in at http://127.0.0.1:8000/login/ with any of these (password: sextant-demo):")
        for username, _first, _, role, _ in USERS:
            what = f"{role.label.lower()} of Data & Analytics" if role else "member of Growth Marketing only"
            if username == "lead":
                what = "team lead, editor of Data & Analytics"
            self.stdout.write(f"  {username:<12} {what}")

    def _users(self) -> dict[str, User]:
        users = {}
        for username, first, last, _, superuser in USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@northwind.example",
                    "is_staff": superuser,
                    "is_superuser": superuser,
                },
            )
            if created or not user.check_password(PASSWORD):
                user.set_password(PASSWORD)
                user.save(update_fields=["password"])
            users[username] = user
        return users

    def _teams(self, users: dict[str, User]) -> tuple[Team, Team]:
        org, _ = Organization.objects.get_or_create(defaults={"name": "Northwind Outfitters", "vision": ORG_VISION})
        team = Team.objects.filter(slug="data-analytics").first()
        if team is None:
            team = services.team_create(slug="data-analytics", name="Data & Analytics", by=users["admin"])
            team = services.team_update(team=team, expected_version=team.version, by=users["lead"], **TEAM_TEXTS)
        other = Team.objects.filter(slug="growth-marketing").first()
        if other is None:
            other = services.team_create(slug="growth-marketing", name="Growth Marketing", by=users["outsider"])
            services.team_update(
                team=other,
                expected_version=other.version,
                by=users["outsider"],
                vision="Grow the number of loyal, repeat customers.",
            )
        for username, _, _, role, _ in USERS:
            if role and not Membership.objects.filter(team=team, user=users[username]).exists():
                services.membership_add(team=team, user=users[username], role=role, by=users["admin"])
        return team, other

    def _organization_goals(self) -> dict[str, Goal]:
        wanted = [
            ("Grow online revenue by 20% in 2026", date(2026, 1, 1), date(2026, 12, 31), GoalStatus.ON_TRACK),
            ("Every decision backed by data we trust", date(2026, 1, 1), date(2027, 12, 31), GoalStatus.AT_RISK),
        ]
        goals = {}
        for title, start, end, status in wanted:
            goal = Goal.objects.filter(team__isnull=True, title=title).first()
            if goal is None:
                goal = Goal(team=None, title=title, starts_on=start, ends_on=end, status=status)
                goal.full_clean()
                goal.save()
            goals[title] = goal
        return goals

    def _goals(self, team: Team, users: dict[str, User], org_goals: dict[str, Goal]) -> dict[str, Goal]:
        revenue, trust = org_goals.values()
        wanted = [
            (
                "Certify the ten metrics the board reads",
                "2026-Q3",
                GoalStatus.ACHIEVED,
                "lead",
                trust,
                "The board pack used three definitions of *active customer*. Agree one, compute it in the warehouse.",
            ),
            (
                "Half of merchandisers use the demand forecast weekly",
                "2026-Q4",
                GoalStatus.AT_RISK,
                "pm",
                revenue,
                "Merchandisers still order from spreadsheets. Adoption is measured as weekly active users of the forecast.",
            ),
            (
                "Cut the time to answer an ad-hoc question to one day",
                "2026-Q4",
                GoalStatus.ON_TRACK,
                "lead",
                trust,
                "Median time from request to answer, from the request queue.",
            ),
            (
                "Customer 360 generally available",
                "2026-Q4",
                GoalStatus.OFF_TRACK,
                "pm",
                revenue,
                "Identity matching is behind: the loyalty and web accounts do not join yet.",
            ),
            (
                "Retire the legacy sales cube",
                "2027-Q1",
                GoalStatus.ON_TRACK,
                "lead",
                trust,
                "Everyone who still reads it moves to the revenue dashboard first.",
            ),
            (
                "Launch self-serve metric catalogue",
                "2026-Q3",
                GoalStatus.DROPPED,
                "pm",
                trust,
                "Dropped in favour of certifying the board metrics first (see decision log).",
            ),
        ]
        goals = {}
        for title, quarter, status, owner, aligned, description in wanted:
            goal = Goal.objects.filter(team=team, title=title).first()
            if goal is None:
                goal = services.goal_create(
                    team=team,
                    by=users["pm"],
                    title=title,
                    quarter=quarter,
                    status=GoalStatus.ON_TRACK,
                    owner=users[owner],
                    aligned_to=aligned,
                    description=description,
                )
                if status != GoalStatus.ON_TRACK:
                    goal = services.goal_update(
                        goal=goal, expected_version=goal.version, by=users["lead"], status=status
                    )
            goals[title] = goal
        return goals

    def _data_products(self, team: Team, users: dict[str, User]) -> None:
        today = timezone.localdate()

        def ago(days: int) -> date:
            return today - timedelta(days=days)

        wanted = [
            (
                "Orders",
                DataProductKind.DATASET,
                LifecycleStage.GA,
                "lead",
                6,
                "Every order line since 2019, cleaned and deduplicated, refreshed every six hours.",
                [
                    ("Finance", 420, 360),
                    ("Merchandising", 380, 300),
                    ("Marketing", 300, 240),
                    ("Customer Service", 200, 150),
                    ("Supply Chain", 160, 90),
                    ("Stores", 60, None),
                ],
            ),
            (
                "Revenue dashboard",
                DataProductKind.DASHBOARD,
                LifecycleStage.GA,
                "pm",
                24,
                "Daily revenue by channel, region and category, against plan.",
                [("Finance", 400, 380), ("Executive team", 350, 330), ("Stores", 250, 200), ("Marketing", 120, 100)],
            ),
            (
                "Customer 360",
                DataProductKind.DATASET,
                LifecycleStage.BETA,
                "pm",
                24,
                "One row per customer across web, stores and loyalty. Identity matching in progress.",
                [("Marketing", 120, 60), ("Customer Service", 45, None)],
            ),
            (
                "Demand forecast",
                DataProductKind.ML_MODEL,
                LifecycleStage.BETA,
                "lead",
                168,
                "Weekly SKU-by-store demand forecast for the next 12 weeks.",
                [("Merchandising", 150, 80), ("Supply Chain", 70, None)],
            ),
            (
                "Marketing attribution",
                DataProductKind.PIPELINE,
                LifecycleStage.GA,
                "lead",
                24,
                "Joins ad spend to orders with a position-based attribution model.",
                [("Marketing", 330, 300), ("Finance", 200, 170)],
            ),
            (
                "Product catalogue API",
                DataProductKind.API,
                LifecycleStage.IDEA,
                "pm",
                None,
                "Serve clean product attributes to the web and store apps.",
                [],
            ),
            (
                "Legacy sales cube",
                DataProductKind.DASHBOARD,
                LifecycleStage.DEPRECATED,
                "lead",
                24,
                "The OLAP cube from 2017. Being retired in favour of the revenue dashboard.",
                [("Stores", 700, 650), ("Finance", 700, 650)],
            ),
        ]
        for name, kind, stage, owner, sla, description, adoptions in wanted:
            if DataProduct.objects.filter(team=team, name=name).exists():
                continue
            product = services.data_product_create(
                team=team,
                by=users[owner],
                name=name,
                kind=kind,
                stage=stage,
                owner=users[owner],
                freshness_sla_hours=sla,
                description=description,
                documentation_url=f"https://wiki.northwind.example/data/{name.lower().replace(' ', '-')}",
            )
            for consumer, trial_days, active_days in adoptions:
                adoption = services.adoption_create(
                    product=product,
                    by=users["pm"],
                    consuming_team=consumer,
                    stage=AdoptionStage.TRIALLING,
                    since=ago(trial_days),
                )
                if active_days is not None:
                    adoption = services.adoption_update(
                        adoption=adoption, by=users["pm"], stage=AdoptionStage.ACTIVE, since=ago(active_days)
                    )
            if name == "Legacy sales cube":
                for adoption in Adoption.objects.filter(data_product=product, consuming_team="Finance"):
                    services.adoption_update(
                        adoption=adoption, by=users["lead"], stage=AdoptionStage.CHURNED, since=ago(45)
                    )

    def _decisions(self, team: Team, users: dict[str, User], goals: dict[str, Goal]) -> None:
        today = timezone.localdate()
        wanted = [
            (
                "Certify board metrics before building a catalogue",
                150,
                "We planned a self-serve metric catalogue for Q3, but the board pack used three definitions of active customer.",
                "Pause the catalogue. Spend Q3 agreeing and certifying the ten metrics the board reads.",
                "The catalogue slips to 2027; the board reads one number per metric from Q3.",
                ["Certify the ten metrics the board reads", "Launch self-serve metric catalogue"],
            ),
            (
                "Forecast weekly, not daily",
                95,
                "Merchandisers order weekly; a daily forecast cost four times the compute and nobody read it.",
                "Publish the demand forecast once a week, on Monday at 06:00.",
                "Lower cost, one clear number per week. Daily replenishment will need another model later.",
                ["Half of merchandisers use the demand forecast weekly"],
            ),
            (
                "Retire the legacy sales cube by March",
                40,
                "Two teams still read the 2017 cube; it breaks every month-end.",
                "Move Stores and Finance to the revenue dashboard, then switch the cube off in 2027-Q1.",
                "We support both for one quarter; after that, one definition of revenue.",
                ["Retire the legacy sales cube"],
            ),
            (
                "Use the loyalty ID as the customer key",
                20,
                "Web and store accounts don't share an ID; email matching got 61% of customers.",
                "Key Customer 360 on the loyalty ID, with email matching as a fallback.",
                "Customers outside the loyalty programme appear as anonymous until they join.",
                ["Customer 360 generally available"],
            ),
        ]
        for title, days_ago, context, decision, consequence, goal_titles in wanted:
            if Decision.objects.filter(team=team, title=title).exists():
                continue
            services.decision_create(
                team=team,
                by=users["lead"],
                title=title,
                decided_on=today - timedelta(days=days_ago),
                context=context,
                decision=decision,
                consequence=consequence,
                goals=[goals[t] for t in goal_titles],
            )

    def _other_team(self, other: Team, users: dict[str, User]) -> None:
        if not Goal.objects.filter(team=other).exists():
            services.goal_create(
                team=other,
                by=users["outsider"],
                title="Lift repeat purchase rate to 35%",
                quarter="2026-Q4",
                owner=users["outsider"],
            )
