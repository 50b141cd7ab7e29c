import datetime

import factory

from interviews.models import AvatarColour, Insight, InsightKind, Interview, InterviewType, Persona
from tests.portfolio.factories import TeamFactory


class PersonaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Persona

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Persona {n}")
    role = "Analyst"
    department = "Finance"
    colour = AvatarColour.TEAL


class InterviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interview

    team = factory.SubFactory(TeamFactory)
    held_on = factory.LazyFunction(lambda: datetime.date(2026, 6, 1))
    interviewee_name = factory.Sequence(lambda n: f"Interviewee {n}")
    interviewee_role = "Buyer"
    interviewee_team = "Merchandising"
    type = InterviewType.USER
    notes = "They order from a spreadsheet."
    tags = factory.LazyFunction(list)


class InsightFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Insight

    team = factory.SubFactory(TeamFactory)
    interview = None
    quote = factory.Sequence(lambda n: f"Quote number {n}")
    kind = InsightKind.PAIN
    tags = factory.LazyFunction(list)
