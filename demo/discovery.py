"""The demo team's discovery: four personas, 25 interviews over the last five months, 80 insights.

77 insights come from the interviews' notes and three are typed in (a support ticket, a survey, board feedback).

Idempotent: personas are found by name, interviews by interviewee, insights by interview and
quote; only what is missing is created, through the services, so history is real. Dates are
counted back from today, so the weekly chart always shows recent months.

Every insight's tags name themes of the demo tree (demo/tree.py): `THEMES` maps each tag to
the opportunity it is evidence for, so insights can be linked to the tree by tag.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from interviews import services
from interviews.models import AvatarColour, Insight, InsightKind, Interview, InterviewType, Persona
from opportunities import services as tree_services
from opportunities.models import Evidence, Kind, Node
from portfolio.models import Team

PAIN, NEED, DESIRE, DELIGHT, IDEA = (
    InsightKind.PAIN,
    InsightKind.NEED,
    InsightKind.DESIRE,
    InsightKind.DELIGHT,
    InsightKind.IDEA,
)

# Tag → the opportunity of the demo tree it is evidence for.
THEMES = {
    "findability": "Analysts can't find the right table",
    "table-names": "Table names don't say what's inside",
    "duplicate-tables": "Three tables claim to be 'orders'",
    "documentation": "The wiki pages are out of date",
    "access": "Waiting days for access to data",
    "approvals": "Access requests need three approvals",
    "sql-skills": "SQL skills vary widely across teams",
    "csv-exports": "Marketing analysts rely on exported CSVs",
    "performance": "Dashboards time out at month end",
    "request-intake": "Ad-hoc requests arrive through five channels",
    "request-status": "Requesters can't see where their request is",
    "ownership": "Nobody knows who owns a dataset",
    "forecast-trust": "Merchandisers don't trust the forecast",
    "promotions": "The forecast was wrong on last year's promotions",
    "explainability": "They can't see why a number changed",
    "forecast-timing": "The forecast arrives after orders are placed",
    "ordering-spreadsheet": "Ordering lives in a spreadsheet that can't read our data",
    "copy-paste": "Copy-pasting 200 SKUs a week",
    "store-level": "Store managers want store-level numbers",
    "stock-outs": "Stock-outs are noticed a week late",
    "new-products": "New products have no history to forecast from",
    "revenue-definitions": "Different reports give different revenue",
    "freshness": "Leaders can't tell whether a number is fresh",
    "board-pack": "The board pack is assembled by hand",
    "metric-definitions": "Metric definitions live in people's heads",
    "alert-fatigue": "Alerts fire too often to be read",
    "baselines": "Targets are set without a baseline",
    "pipeline-failures": "Pipelines break silently overnight",
}

PERSONAS = [
    {
        "name": "Analyst Aiko",
        "role": "Business analyst",
        "department": "Finance and Marketing",
        "colour": AvatarColour.TEAL,
        "goals": "- Answer the question she was asked **the same day**\n- Reuse what others built instead of starting over",
        "pains": "- Can't tell which of three *orders* tables is right\n- Waits days for access\n"
        "- Month-end dashboards time out",
        "jobs_to_be_done": "When a manager asks *why did revenue dip*, I want to find the trusted table and "
        "query it myself, so I can answer before the meeting.",
    },
    {
        "name": "Merchandiser Mia",
        "role": "Merchandiser",
        "department": "Merchandising",
        "colour": AvatarColour.AMBER,
        "goals": "- Order the right quantity for every store, every week\n- Spend Monday on suppliers, not on spreadsheets",
        "pains": "- The forecast arrives after she has placed orders\n- She doesn't trust it around promotions\n"
        "- Copy-pastes 200 SKUs a week",
        "jobs_to_be_done": "When I plan next week's orders, I want a forecast I can explain to my buyer, "
        "so I can order with confidence.",
    },
    {
        "name": "Store Manager Sol",
        "role": "Store manager",
        "department": "Stores",
        "colour": AvatarColour.GREEN,
        "goals": "- Keep the shelves full\n- Know how his store compares with the region",
        "pains": "- Only sees national numbers\n- Learns about stock-outs a week late, by email",
        "jobs_to_be_done": "When I open the store in the morning, I want to see yesterday's sales and "
        "gaps for my store, so I can fix the shelves before customers notice.",
    },
    {
        "name": "Exec Elena",
        "role": "Finance director",
        "department": "Leadership",
        "colour": AvatarColour.VIOLET,
        "goals": "- One number per metric in the board pack\n- Know a number is fresh before she repeats it",
        "pains": "- Two reports, two revenues\n- The board pack takes Finance two days by hand",
        "jobs_to_be_done": "When I prepare the board meeting, I want numbers everyone agrees on, "
        "so I can spend the meeting on decisions, not on reconciling.",
    },
]

A, M, S, E = "Analyst Aiko", "Merchandiser Mia", "Store Manager Sol", "Exec Elena"
USER, STAKEHOLDER, USABILITY, EXIT = (
    InterviewType.USER,
    InterviewType.STAKEHOLDER,
    InterviewType.USABILITY,
    InterviewType.EXIT,
)

# days ago, interviewee, role, team, persona, type, interviewers, interview tags, context, insights
# fmt: off
INTERVIEWS = [
    (146, "Hannah Kowalski", "Senior analyst", "Finance", A, USER, ["pm"], ["findability"],
     "Weekly finance close. Shared her screen while looking for last month's returns.",
     [(PAIN, "I searched for 'orders' and got three tables. I picked the one with the most rows and hoped.", ["findability", "duplicate-tables"]),
      (NEED, "I need to know which table finance signs off on, before I build anything on it.", ["duplicate-tables"]),
      (IDEA, "Put a badge on the table the data team stands behind, like a blue tick.", ["findability"])]),
    (144, "Raj Patel", "Merchandiser", "Merchandising", M, USER, ["pm", "lead"], ["forecast-timing"],
     "Monday ordering session, watched live at his desk.",
     [(PAIN, "The forecast lands on Tuesday. I place my orders on Monday morning.", ["forecast-timing"]),
      (PAIN, "So I order from last year's spreadsheet and adjust by gut.", ["ordering-spreadsheet", "forecast-trust"]),
      (DESIRE, "If it were there on Friday evening I would actually use it.", ["forecast-timing"])]),
    (133, "Grace Liu", "Store manager", "Stores", S, USER, ["pm"], ["store-level"],
     "Visit to the Leeds store before opening.",
     [(PAIN, "The dashboard tells me the national number. I run one shop.", ["store-level"]),
      (PAIN, "I hear about a stock-out when a customer complains, or a week later by email.", ["stock-outs"]),
      (NEED, "Yesterday's sales for my store, on my phone, before 8 am.", ["store-level"])]),
    (127, "Martin Dubois", "Finance director", "Finance", E, STAKEHOLDER, ["lead"], ["revenue-definitions"],
     "Quarterly check-in with the finance leadership.",
     [(PAIN, "Marketing said revenue grew 4%, my report says 2%. Both came from your team.", ["revenue-definitions"]),
      (PAIN, "Two people spend two days every quarter assembling the board pack by hand.", ["board-pack"]),
      (NEED, "One definition of revenue, written down, that everyone uses.", ["revenue-definitions", "metric-definitions"]),
      (IDEA, "Generate the board pack from the certified metrics and let us edit the commentary.", ["board-pack"])]),
    (122, "Sofia Rossi", "Marketing analyst", "Marketing", A, USER, ["pm"], ["csv-exports"],
     "Campaign reporting; she keeps a folder of CSV exports.",
     [(PAIN, "I export to CSV every Monday because the dashboard can't do the cut I need.", ["csv-exports"]),
      (PAIN, "By Thursday my CSV is stale and I don't notice.", ["csv-exports", "freshness"]),
      (DESIRE, "Let me save my own cut of the dashboard and share it with my team.", ["csv-exports"])]),
    (120, "Tom Becker", "Junior analyst", "Customer Service", A, USABILITY, ["pm", "lead"], ["findability", "table-names"],
     "Usability test of the warehouse browser: find the table with refunds by channel.",
     [(PAIN, "What is fct_ord_ln_v2_final? I'm not opening that.", ["table-names"]),
      (PAIN, "It took me eleven minutes and I picked the wrong table.", ["findability"]),
      (DELIGHT, "Oh, the description tells me the grain. That's exactly what I wanted.", ["documentation"])]),
    (106, "Amira Haddad", "Buyer", "Merchandising", M, USER, ["pm"], ["promotions"],
     "Post-mortem of the spring promotion.",
     [(PAIN, "Last spring the forecast said 300 tents. We sold 1,100 in the promotion week.", ["promotions", "forecast-trust"]),
      (NEED, "Tell me when the forecast doesn't know about a promotion, so I can override it.", ["promotions"]),
      (PAIN, "When a number jumps I can't see why, so I can't defend it to my manager.", ["explainability"])]),
    (99, "Lukas Meyer", "Data engineer", "Data & Analytics", None, EXIT, ["lead"], ["pipeline-failures"],
     "Exit interview: leaving for a platform team elsewhere.",
     [(PAIN, "Pipelines fail at 2 am and we find out when a stakeholder asks at 10.", ["pipeline-failures"]),
      (PAIN, "Half of my alerts were noise, so I stopped reading them.", ["alert-fatigue"]),
      (IDEA, "Page only on the pipelines that feed certified metrics; the rest can wait for the morning.", ["alert-fatigue", "pipeline-failures"])]),
    (97, "Chloe Martin", "Regional manager", "Stores", S, STAKEHOLDER, ["pm"], ["store-level"],
     "Regional managers' monthly meeting, 20 minutes on data.",
     [(PAIN, "I compare my twelve stores by copying numbers into a spreadsheet.", ["store-level"]),
      (DESIRE, "A league table of my stores, same shape every week.", ["store-level"]),
      (NEED, "Online and store stock should agree, or at least tell me which one is right.", ["stock-outs"])]),
    (85, "Daniel Kim", "Pricing analyst", "Finance", A, USER, ["pm"], ["access"],
     "New joiner, three weeks in.",
     [(PAIN, "I waited nine days for access to the sales schema.", ["access", "approvals"]),
      (PAIN, "The request needed three approvals, one from someone on holiday.", ["approvals"]),
      (IDEA, "Give every analyst read access to certified tables on day one.", ["access"])]),
    (78, "Ines Garcia", "Merchandiser", "Merchandising", M, USER, ["pm", "lead"], ["copy-paste"],
     "Watched her build next week's order file.",
     [(PAIN, "Every Monday I copy 200 SKUs from the forecast into the ordering sheet, one by one.", ["copy-paste", "ordering-spreadsheet"]),
      (DESIRE, "A button that fills my order sheet with the forecast and lets me change it.", ["copy-paste"]),
      (DELIGHT, "The weekly forecast is much easier to read than the daily one was.", ["forecast-trust"])]),
    (71, "Peter Novak", "Chief financial officer", "Leadership", E, STAKEHOLDER, ["lead"], ["freshness"],
     "Pre-board briefing.",
     [(PAIN, "I quoted a number to the board that was three days old. Nobody told me.", ["freshness"]),
      (NEED, "Show me when a number was computed, next to the number.", ["freshness"]),
      (PAIN, "Active customer means three things depending on who you ask.", ["metric-definitions"])]),
    (69, "Olivia Brown", "BI developer", "Finance", A, USER, ["pm"], ["performance"],
     "Month-end close, dashboard performance.",
     [(PAIN, "At month end the revenue dashboard times out for everyone at 9 am.", ["performance"]),
      (PAIN, "Finance runs the same heavy query twenty times a morning.", ["performance"]),
      (IDEA, "Precompute the month-end cut overnight.", ["performance"])]),
    (57, "Yusuf Demir", "Store manager", "Stores", S, USER, ["pm"], ["stock-outs"],
     "Phone call, early shift.",
     [(PAIN, "We find the empty shelf before the system does.", ["stock-outs"]),
      (NEED, "An alert when my store is about to run out of a top seller.", ["stock-outs"]),
      (DELIGHT, "The new store page loads on my phone in the stockroom. First time anything has.", ["store-level"])]),
    (43, "Emma Wilson", "Customer service lead", "Customer Service", A, STAKEHOLDER, ["lead"], ["request-intake"],
     "Her team sends most of the ad-hoc requests.",
     [(PAIN, "I asked in Slack, then by email, then in the ticket tool. Three answers, none final.", ["request-intake"]),
      (PAIN, "I never know if my request is being worked on.", ["request-status"]),
      (NEED, "One place to ask, and a status I can check myself.", ["request-intake", "request-status"])]),
    (41, "Noah Schmidt", "Category manager", "Merchandising", M, USER, ["pm"], ["new-products"],
     "Launch planning for a new product range.",
     [(PAIN, "New products have no history, so the forecast gives them zero.", ["new-products"]),
      (IDEA, "Use a similar product's history as a starting point.", ["new-products"]),
      (NEED, "Let me say which old product the new one replaces.", ["new-products"])]),
    (36, "Julia Fischer", "Analyst", "Supply Chain", A, USABILITY, ["pm", "lead"], ["findability"],
     "Usability test of the certified badge prototype.",
     [(DELIGHT, "I went straight to the one with the badge. Took me 30 seconds.", ["findability", "duplicate-tables"]),
      (NEED, "Tell me who to ask when the table looks wrong.", ["ownership"]),
      (DESIRE, "Show me which dashboards use this table before I change anything.", ["documentation"])]),
    (29, "Carlos Mendes", "Head of marketing", "Marketing", E, STAKEHOLDER, ["lead"], ["baselines"],
     "Target-setting for next year.",
     [(PAIN, "We set targets without knowing what a normal week looks like.", ["baselines"]),
      (PAIN, "Last year's numbers were restated twice, so the baseline moved under us.", ["baselines", "revenue-definitions"]),
      (NEED, "A baseline that doesn't change after we've agreed on it.", ["baselines"])]),
    (24, "Aisha Bello", "Merchandiser", "Merchandising", M, USER, ["pm"], ["forecast-trust"],
     "Follow-up after the forecast explanation pilot.",
     [(DELIGHT, "Now I can see the promotion uplift in the forecast, I trust it more.", ["forecast-trust", "explainability"]),
      (PAIN, "It still comes after my Monday orders some weeks.", ["forecast-timing"]),
      (DESIRE, "Tell me how wrong it was last week, per category.", ["forecast-trust"])]),
    (19, "Ben Taylor", "Store manager", "Stores", S, USER, ["pm", "lead"], ["store-level"],
     "Visit to the Bristol store.",
     [(NEED, "Compare my store with the three stores most like it, not with the national average.", ["store-level"]),
      (PAIN, "Stock-out emails come a week after the fact.", ["stock-outs"]),
      (IDEA, "Put the gaps list on the handheld scanners.", ["stock-outs"])]),
    (15, "Mei Chen", "Financial analyst", "Finance", A, USER, ["pm"], ["metric-definitions"],
     "Metric catalogue preview.",
     [(DELIGHT, "Finally, the definition of active customer in one place, with an owner.", ["metric-definitions"]),
      (NEED, "Link each board metric to the SQL that computes it.", ["metric-definitions", "board-pack"]),
      (PAIN, "I still rebuild the same slide every month from three exports.", ["board-pack"])]),
    (11, "Oscar Lindqvist", "Operations director", "Supply Chain", E, STAKEHOLDER, ["lead"], ["pipeline-failures"],
     "Incident review after the Tuesday outage.",
     [(PAIN, "The orders data was a day late and nobody said so on the dashboard.", ["pipeline-failures", "freshness"]),
      (NEED, "When data is late, say it on the page, in words.", ["freshness"]),
      (IDEA, "A status line on every dashboard: fresh, late, or broken.", ["freshness", "pipeline-failures"])]),
    (8, "Priya Shah", "Marketing analyst", "Marketing", A, USER, ["pm"], ["csv-exports"],
     "Saved views beta, one week in.",
     [(DELIGHT, "I haven't exported a CSV this week. The saved view does it.", ["csv-exports"]),
      (PAIN, "I'm not sure I'm allowed to query the customer tables, so I don't.", ["access"]),
      (NEED, "Examples of good queries for my area, to start from.", ["sql-skills"])]),
    (5, "Fatima Zahra", "Merchandiser", "Merchandising", M, USER, ["pm", "lead"], ["ordering-spreadsheet"],
     "Watched her place orders with the new forecast export.",
     [(PAIN, "The ordering sheet can't read your data, so I still paste.", ["ordering-spreadsheet", "copy-paste"]),
      (DESIRE, "Let the forecast fill the order and I just correct it.", ["ordering-spreadsheet"]),
      (IDEA, "Send the forecast to the ordering tool directly, with my overrides kept.", ["ordering-spreadsheet"])]),
    (3, "George Evans", "Analyst", "Stores", A, USER, ["pm"], ["sql-skills"],
     "Self-serve session with the stores analytics team.",
     [(PAIN, "Half my team can write SQL, half can't, and the half that can is swamped.", ["sql-skills"]),
      (NEED, "Starter queries per domain that we can copy and change.", ["sql-skills"]),
      (PAIN, "Nobody knows who owns the stock table, so nobody fixes it.", ["ownership"]),
      (IDEA, "Put an owner's name on every table, and make them answer questions about it.", ["ownership"])]),
]

# Insights from outside interviews: support tickets and a survey. persona, kind, quote, tags
TYPED = [
    (A, PAIN, "Support ticket: “Which table has the refunds? The wiki page links to one that was deleted.”", ["documentation", "findability"]),
    (S, NEED, "Store survey: 41 of 60 managers asked for their own store's numbers on the daily email.", ["store-level"]),
    (E, PAIN, "Board feedback: “Why does slide 4 disagree with slide 9?”", ["revenue-definitions", "board-pack"]),
]
# fmt: on


def _notes(context: str, insights: list) -> str:
    heard = "\n\n".join(f"> {quote}" if kind in (PAIN, NEED) else quote for kind, quote, _ in insights)
    return (
        f"**Context:** {context}\n\n## What we heard\n\n{heard}\n\n## Follow-ups\n\n- Share the notes with the team\n"
    )


def seed_discovery(team: Team, users: dict) -> int:
    """Create what is missing of the demo's discovery. Returns the number of objects created."""
    today = timezone.localdate()
    created = 0
    personas = {}
    for fields in PERSONAS:
        persona = Persona.objects.filter(team=team, name=fields["name"]).first()
        if persona is None:
            persona = services.persona_create(team=team, by=users["pm"], **fields)
            created += 1
        personas[persona.name] = persona
    for days, name, role, where, persona, kind, interviewers, tags, context, insights in INTERVIEWS:
        interview = Interview.objects.filter(team=team, interviewee_name=name).first()
        if interview is None:
            interview = services.interview_create(
                team=team,
                by=users[interviewers[0]],
                held_on=today - timedelta(days=days),
                interviewee_name=name,
                interviewee_role=role,
                interviewee_team=where,
                persona=personas[persona] if persona else None,
                type=kind,
                interviewers=[users[u] for u in interviewers],
                tags=tags,
                notes=_notes(context, insights),
                recording_url=f"https://drive.northwind.example/interviews/{name.lower().replace(' ', '-')}",
            )
            created += 1
        existing = set(Insight.objects.filter(interview=interview).values_list("quote", flat=True))
        for insight_kind, quote, insight_tags in insights:
            if quote not in existing:
                services.insight_create(
                    team=team,
                    by=users[interviewers[0]],
                    interview=interview,
                    quote=quote,
                    kind=insight_kind,
                    tags=insight_tags,
                )
                created += 1
    for persona, insight_kind, quote, insight_tags in TYPED:
        if not Insight.objects.filter(team=team, interview__isnull=True, quote=quote).exists():
            services.insight_create(
                team=team, by=users["pm"], persona=personas[persona], quote=quote, kind=insight_kind, tags=insight_tags
            )
            created += 1
    return created


def link_evidence(team: Team, users: dict) -> int:
    """Attach each demo insight to the opportunities its tags name (`THEMES`). Returns the links made.

    Through the services, so the tree's panels show who attached what and when; links already
    there are left alone, so running it again makes none. Opportunities no insight speaks for
    stay assumptions, as in any real tree.
    """
    nodes = {
        node.title: node for node in Node.objects.filter(team=team, kind=Kind.OPPORTUNITY, title__in=THEMES.values())
    }
    existing = set(Evidence.objects.filter(node__team=team).values_list("node_id", "insight_id"))
    made = 0
    for insight in Insight.objects.filter(team=team).order_by("pk"):
        for tag in insight.tags:
            node = nodes.get(THEMES.get(tag, ""))
            if node is None or (node.pk, insight.pk) in existing:
                continue
            tree_services.evidence_attach(node=node, insight=insight, by=users["pm"])
            existing.add((node.pk, insight.pk))
            made += 1
    return made
