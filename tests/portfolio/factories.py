import factory
from django.contrib.auth import get_user_model

from portfolio.models import Adoption, AdoptionStage, DataProduct, Decision, Goal, Membership, Role, Team


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw-for-tests-1")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    slug = factory.Sequence(lambda n: f"team-{n}")
    name = factory.Sequence(lambda n: f"Team {n}")
    vision = "Trusted data for everyone."


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    team = factory.SubFactory(TeamFactory)
    role = Role.VIEWER


class GoalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Goal

    team = factory.SubFactory(TeamFactory)
    title = factory.Sequence(lambda n: f"Goal {n}")
    quarter = "2026-Q4"
    starts_on = factory.LazyFunction(lambda: __import__("datetime").date(2026, 10, 1))
    ends_on = factory.LazyFunction(lambda: __import__("datetime").date(2026, 12, 31))


class DataProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DataProduct

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Product {n}")


class AdoptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Adoption

    data_product = factory.SubFactory(DataProductFactory)
    consuming_team = factory.Sequence(lambda n: f"Consumer {n}")
    stage = AdoptionStage.ACTIVE
    since = factory.LazyFunction(lambda: __import__("datetime").date(2026, 6, 1))


class DecisionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Decision

    team = factory.SubFactory(TeamFactory)
    title = factory.Sequence(lambda n: f"Decision {n}")
    decision = "We do X."
    decided_on = factory.LazyFunction(lambda: __import__("datetime").date(2026, 9, 1))
