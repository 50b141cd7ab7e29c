"""Share links: made and revoked by editors, opened by anyone holding them, showing only the roadmap."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from opportunities import services, sharing
from opportunities.models import Lane, Node, ShareLink
from tests.html import assert_no_active_content, error_next_to, main_of, parse
from tests.opportunities.roadmap_factories import RoadmapWorld, big_roadmap, roadmap_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(team, other_team, people) -> RoadmapWorld:
    return roadmap_world(team, people, other_team)


def share_url(token: str) -> str:
    return reverse("opportunities:shared_roadmap", args=[token])


def links_url(world: RoadmapWorld) -> str:
    return reverse("opportunities:share_links", args=[world.team.slug])


def new_link(world: RoadmapWorld, by, **fields) -> tuple[ShareLink, str]:
    return sharing.share_link_create(team=world.team, label=fields.pop("label", "Leadership"), by=by, **fields)


def titles(response) -> list[str]:
    return sorted(t.text for t in parse(response).find_all(cls="rm-title"))


def page_of(response) -> str:
    """The page without what differs on every response (the script nonce, the CSRF token)."""
    html = response.content.decode()
    html = re.sub(r'nonce="[^"]*"', 'nonce=""', html)
    return re.sub(r'"X-CSRFToken": "[^"]*"', '"X-CSRFToken": ""', html)


def not_found_page(client: Client) -> str:
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    return page_of(response)


# Making links


def test_an_editor_makes_a_link_and_sees_its_address_once(world, editor, client_for):
    client = client_for(editor)
    response = client.post(links_url(world), {"label": "Finance leadership", "outcome": "", "expires_on": ""})

    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    address = main_of(response).find("input", id="share-address").get("value")
    token = re.fullmatch(r"http://testserver/share/([A-Za-z0-9_-]+)/", address).group(1)
    assert len(token) >= 43  # 32 random bytes
    link = ShareLink.objects.get()
    assert (link.label, link.team, link.created_by, link.outcome, link.expires_at) == (
        "Finance leadership",
        world.team,
        editor,
        None,
        None,
    )
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    # The token itself is nowhere in the database, nor shown again.
    stored = repr(list(ShareLink.objects.values())) + repr(list(ShareLink.history.values()))
    assert token not in stored
    assert token not in client.get(links_url(world)).content.decode()


def test_two_links_never_share_a_token(world, editor):
    tokens = {new_link(world, editor, label=f"Link {i}")[1] for i in range(20)}
    assert len(tokens) == 20


def test_a_link_can_show_one_outcome_and_expire(world, editor, client_for):
    day = timezone.localdate() + timedelta(days=10)
    response = client_for(editor).post(
        links_url(world),
        {
            "label": "Pipeline owners",
            "outcome": world.nodes["O2"].pk,
            "expires_on": day.isoformat(),
            "show_owners": "on",
        },
    )
    assert response.status_code == 201
    link = ShareLink.objects.get()
    assert (link.outcome_id, link.show_owners) == (world.nodes["O2"].pk, True)
    assert timezone.localtime(link.expires_at).date() == day + timedelta(days=1)  # it works all of that day


@pytest.mark.parametrize(
    ("data", "field", "error"),
    [
        ({"label": ""}, "label", "This field is required."),
        ({"expires_on": "2020-01-01"}, "expires_on", "Pick today or a day in the future."),
        ({"outcome": "their outcome"}, "outcome", "Pick one of this team's outcomes."),
        ({"outcome": "an opportunity"}, "outcome", "Pick one of this team's outcomes."),
    ],
    ids=["no label", "past expiry", "another team's outcome", "not an outcome"],
)
def test_a_wrong_link_form_says_why_next_to_the_field_and_makes_nothing(world, editor, client_for, data, field, error):
    values = {"their outcome": world.theirs["outcome"].pk, "an opportunity": world.nodes["A"].pk}
    form = {"label": "Leadership", "outcome": "", "expires_on": ""} | {k: values.get(v, v) for k, v in data.items()}
    response = client_for(editor).post(links_url(world), form)
    assert response.status_code == 422
    assert error_next_to(main_of(response), field) == error
    assert "Their secret outcome" not in parse(response).text
    assert not ShareLink.objects.exists()


def test_the_list_says_when_each_link_was_last_opened_and_whether_it_still_works(world, editor, team_admin, client_for):
    used, token = new_link(world, editor, label="Used")
    new_link(world, editor, label="Unused")
    revoked, _ = new_link(world, editor, label="Stopped")
    sharing.share_link_revoke(link=revoked, by=team_admin)
    expired, _ = new_link(world, editor, label="Old")
    ShareLink.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=1))
    Client().get(share_url(token))

    main = main_of(client_for(editor).get(links_url(world)))
    items = {item.find("strong").text: item for item in main.find_all("li", cls="share-item")}
    assert items["Used"].find(cls="share-used").text.startswith("Last opened 0")
    assert items["Unused"].find(cls="share-used").text == "Never opened"
    assert [items[name].find(cls="badge").text for name in ("Used", "Stopped", "Old")] == [
        "Active",
        "Revoked",
        "Expired",
    ]
    assert "by ada" in items["Stopped"].text
    assert items["Stopped"].find("form") is None and items["Used"].find("form") is not None


def test_viewers_cannot_see_make_or_revoke_links_and_outsiders_cannot_tell_they_exist(
    world, editor, viewer, outsider, client_for
):
    link, token = new_link(world, editor)
    revoke = reverse("opportunities:share_link_revoke", args=[world.team.slug, link.pk])
    for user, status in ((viewer, 403), (outsider, 404)):
        client = client_for(user)
        assert client.get(links_url(world)).status_code == status
        assert client.post(links_url(world), {"label": "Mine"}).status_code == status
        assert client.post(revoke).status_code == status
    assert ShareLink.objects.get().revoked_at is None and ShareLink.objects.count() == 1
    assert Client().get(share_url(token)).status_code == 200


def test_revoking_is_immediate_and_answers_the_usual_not_found(world, editor, client_for):
    link, token = new_link(world, editor)
    anyone = Client()
    assert anyone.get(share_url(token)).status_code == 200

    response = client_for(editor).post(reverse("opportunities:share_link_revoke", args=[world.team.slug, link.pk]))
    assert response.status_code == 302

    gone = anyone.get(share_url(token))
    assert gone.status_code == 404
    assert page_of(gone) == not_found_page(anyone)
    link.refresh_from_db()
    assert link.revoked_by == editor and link.revoked_at is not None
    assert link.history.order_by("-history_id").first().history_user == editor


# Opening a link


def test_anyone_with_the_link_sees_the_roadmap_and_nothing_else(world, editor, people):
    Node.objects.filter(pk=world.nodes["A"].pk).update(description="Interview notes: Bob at bob@example.com said…")
    _, token = new_link(world, editor)

    response = Client().get(share_url(token))

    assert response.status_code == 200
    page = parse(response)
    assert titles(response) == sorted(
        [
            "Can't find tables",
            "A searchable catalogue",
            "Waiting for access",
            "Self-serve access",
            "Loads fail at night",
        ]
    )
    text = page.text
    for expected in ("Analysts answer within a day", "Answer in a day", "Hours to answer", "24"):
        assert expected in text
    for hidden in ("Retry loads", "Their secret", "Interview notes", "bob@example.com", "@pam", "@vic", "example.com"):
        assert hidden not in text and hidden not in response.content.decode()
    # No team navigation, no links into the team's pages, no edit controls, no forms.
    assert page.find("aside", cls="sidebar") is None and page.find("nav", cls="nav") is None
    hrefs = [n.get("href") for n in page.iter() if n.get("href")]
    assert not [h for h in hrefs if h.startswith(("/t/", "/api/", "/admin/", "/login/"))]
    assert page.find("form") is None
    assert not [n for n in page.iter() if n.get("draggable") or n.get("hx-post")]
    assert_no_active_content(page)
    assert response["Cache-Control"] == "no-store"
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert response["Referrer-Policy"] == "no-referrer"
    assert "sessionid" not in response.cookies


def test_owners_are_shown_by_username_only_when_the_team_chose_to(world, editor, people):
    people["editor"].username = "pam@northwind.example"
    people["editor"].save()
    _, token = new_link(world, editor, show_owners=True)
    text = parse(Client().get(share_url(token))).text
    assert "@pam" in text and "@vic" in text
    assert "northwind.example" not in text


def test_a_link_to_one_outcome_shows_only_its_part_of_the_roadmap(world, editor):
    _, token = new_link(world, editor, outcome=world.nodes["O2"])
    response = Client().get(share_url(token))
    assert titles(response) == ["Loads fail at night"]
    assert "Analysts answer within a day" not in parse(response).text
    timeline = Client().get(share_url(token) + "?view=timeline")
    assert titles(timeline) == ["Loads fail at night"]
    assert parse(timeline).find(cls="rm-timeline") is not None


def test_deleting_the_shared_outcome_ends_its_links_instead_of_widening_them(world, editor):
    link, token = new_link(world, editor, outcome=world.nodes["O2"])
    world.nodes["O2"].delete()
    assert not ShareLink.objects.filter(pk=link.pk).exists()
    assert Client().get(share_url(token)).status_code == 404


@pytest.mark.parametrize(
    "change", ["forged", "truncated", "one more character", "one character changed", "very long", "the hash itself"]
)
def test_a_wrong_token_answers_the_usual_not_found(world, editor, change):
    link, token = new_link(world, editor)
    wrong = {
        "forged": sharing.secrets.token_urlsafe(32),
        "truncated": token[:-1],
        "one more character": token + "A",
        "one character changed": ("B" if token[0] != "B" else "C") + token[1:],
        "very long": token * 10,
        "the hash itself": link.token_hash,
    }[change]
    client = Client()
    response = client.get(share_url(wrong))
    assert response.status_code == 404
    assert page_of(response) == not_found_page(client)
    assert ShareLink.objects.get().last_used_at is None


def test_an_expired_link_answers_not_found(world, editor):
    link, token = new_link(world, editor, expires_at=timezone.now() + timedelta(minutes=5))
    assert Client().get(share_url(token)).status_code == 200
    ShareLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Client().get(share_url(token)).status_code == 404


def test_a_link_cannot_be_made_already_expired(world, editor):
    with pytest.raises(sharing.ValidationError):
        new_link(world, editor, expires_at=timezone.now() - timedelta(minutes=1))


def test_last_use_is_recorded_at_most_once_a_minute_without_history(world, editor):
    link, token = new_link(world, editor)
    history = link.history.count()
    Client().get(share_url(token))
    first = ShareLink.objects.get().last_used_at
    assert first is not None and timezone.now() - first < timedelta(seconds=5)

    Client().get(share_url(token))
    assert ShareLink.objects.get().last_used_at == first

    ShareLink.objects.filter(pk=link.pk).update(last_used_at=first - timedelta(minutes=2))
    Client().get(share_url(token))
    assert ShareLink.objects.get().last_used_at > first
    assert link.history.count() == history


def test_the_shared_page_changes_when_the_roadmap_does(world, editor):
    _, token = new_link(world, editor)
    sharing_client = Client()
    before = parse(sharing_client.get(share_url(token)))
    assert "Loads fail at night" in [t.text for t in before.find("ol", **{"data-lane": "now"}).find_all(cls="rm-title")]
    services.node_set_lane(node=world["C"], lane=Lane.DONE, by=editor)
    after = parse(sharing_client.get(share_url(token)))
    assert "Loads fail at night" in [t.text for t in after.find("ol", **{"data-lane": "done"}).find_all(cls="rm-title")]


@pytest.mark.parametrize("size", [10, 300], ids=lambda size: f"{size}-nodes")
def test_the_shared_page_costs_a_fixed_number_of_queries(team, people, django_assert_num_queries, size):
    big_roadmap(team, people, size)
    _, token = sharing.share_link_create(team=team, label="Everyone", by=people["editor"])
    client = Client()
    client.get(share_url(token))  # records the first use

    with django_assert_num_queries(4):  # the link + team + outcome, outcomes + goals + metrics, snapshots, cards
        response = client.get(share_url(token))

    assert response.status_code == 200
    assert (
        len(parse(response).find_all("li", cls="rm-card"))
        == Node.objects.filter(team=team).exclude(lane="none").count()
    )


def test_a_link_made_in_the_django_admin_shows_its_address_once_and_works(world, admin_client):
    response = admin_client.post(
        reverse("admin:opportunities_sharelink_add"),
        {"team": world.team.pk, "outcome": "", "label": "Via the admin", "expires_at_0": "", "expires_at_1": ""},
    )
    assert response.status_code == 200
    address = parse(response).find("input", **{"aria-label": "The new link"}).get("value")
    token = address.rstrip("/").rsplit("/", 1)[1]
    link = ShareLink.objects.get(label="Via the admin")
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert "no-store" in response["Cache-Control"] and "messages" not in response.cookies
    assert Client().get(share_url(token)).status_code == 200

    admin_client.post(
        reverse("admin:opportunities_sharelink_changelist"),
        {"action": "revoke", "_selected_action": [link.pk]},
    )
    assert Client().get(share_url(token)).status_code == 404
