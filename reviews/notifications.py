"""What a closed review sends: an email summary and a JSON webhook call, each recorded on a `Delivery`.

The webhook payload (`payload()`, version 1):

    {
      "event": "review.closed", "version": 1,
      "team": {"slug": "data", "name": "Data Team"},
      "review": {"id": 7, "week": "2026-11-16", "url": "https://…/t/data/reviews/7/",
                 "closed_at": "2026-11-16T10:02:11+00:00", "closed_by": "ada", "summary": "…"},
      "headline": [{"title", "value", "week_change", "four_week_change", "target", "status"}],  # north star
      "items": [{"section", "title", "value", "week_change", "four_week_change", "target",
                 "status", "status_override", "override_reason", "comment", "url"}],
      "actions": [{"title", "owner", "due_date", "done", "raised_in_week"}]  # this review's and carried over
    }

It is POSTed as application/json. When REVIEW_WEBHOOK_SECRET is set, the request carries
`X-Sextant-Signature: sha256=<hex HMAC-SHA256 of the raw body>` so the receiver can check it
came from Sextant. Webhook URLs often embed a token (Slack, Teams), so a URL is never shown or
logged whole: deliveries and errors show only its scheme and host.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from .agenda import carried_over
from .models import ItemStatus, Review, Section

USER_AGENT = "Sextant-Review-Webhook/1"


class DeliveryFailed(Exception):
    """An attempt failed; the message says why in words (and never contains the URL's secrets)."""


def redact_url(url: str) -> str:
    """scheme://host[:port]/… — enough to recognise the receiver, never its token."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    rest = "/…" if (parts.path not in ("", "/") or parts.query) else "/"
    return f"{parts.scheme}://{host}{rest}"


def review_url(review: Review) -> str:
    path = reverse("reviews:review", args=[review.team.slug, review.pk])
    return settings.SEXTANT_BASE_URL.rstrip("/") + path


def _items(review: Review) -> list:  # type: ignore[type-arg]
    return list(review.items.select_related("metric").order_by("position", "pk"))


def _actions(review: Review) -> list:  # type: ignore[type-arg]
    own = list(review.actions.select_related("owner", "review").order_by("due_date", "pk"))
    return own + list(carried_over(review))


def _status_label(status: str) -> str:
    return dict(ItemStatus.choices).get(status, status) if status else ""


def payload(review: Review) -> dict[str, Any]:
    items = _items(review)
    actions = _actions(review)

    def figures(item) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        return {
            "title": item.title,
            "value": item.display_value,
            "week_change": item.display_week_change,
            "four_week_change": item.display_4w_change,
            "target": item.display_target,
            "status": item.effective_status,
        }

    return {
        "event": "review.closed",
        "version": 1,
        "team": {"slug": review.team.slug, "name": review.team.name},
        "review": {
            "id": review.pk,
            "week": review.week.isoformat(),
            "url": review_url(review),
            "closed_at": review.closed_at.isoformat() if review.closed_at else None,
            "closed_by": review.closed_by.get_username() if review.closed_by else None,
            "summary": review.summary,
        },
        "headline": [figures(i) for i in items if i.section == Section.NORTH_STAR],
        "items": [
            {
                "section": item.section,
                **figures(item),
                "status_override": item.status_override,
                "override_reason": item.override_reason,
                "comment": item.comment,
                "url": settings.SEXTANT_BASE_URL.rstrip("/") + item.url if item.url.startswith("/") else item.url,
            }
            for item in items
        ],
        "actions": [
            {
                "title": action.title,
                "owner": action.owner.get_username() if action.owner else None,
                "due_date": action.due_date.isoformat() if action.due_date else None,
                "done": action.done,
                "raised_in_week": action.review.week.isoformat(),
            }
            for action in actions
        ],
    }


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not an instruction: following one could turn our POST into a GET
    of an address nobody chose (such as a cloud metadata service)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _Pinned:
    """Connects to the address that was checked, whatever the name resolves to by then: a name
    that answers a safe address to the check and another one to the connection (DNS rebinding)
    reaches nothing new. The Host header, and for HTTPS the SNI name and the certificate check,
    still use the name."""

    def __init__(self, *args: Any, address: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        self._create_connection = functools.partial(_connect_to, address)


class _PinnedHTTPConnection(_Pinned, http.client.HTTPConnection):
    pass


class _PinnedHTTPSConnection(_Pinned, http.client.HTTPSConnection):
    pass


def _connect_to(address: str, host_port: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
    return socket.create_connection((address, host_port[1]), *args, **kwargs)


def _opener(address: str | None) -> urllib.request.OpenerDirector:
    """Never follows redirects; connects to `address` (None: resolve the name, as through a proxy)."""
    if address is None:
        return urllib.request.build_opener(_NoRedirect)

    class PinnedHTTP(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> Any:
            return self.do_open(functools.partial(_PinnedHTTPConnection, address=address), req)

    class PinnedHTTPS(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> Any:
            return self.do_open(functools.partial(_PinnedHTTPSConnection, address=address), req, context=self._context)

    return urllib.request.build_opener(_NoRedirect, PinnedHTTP, PinnedHTTPS)


def check_destination(url: str) -> str:
    """Refuse addresses a webhook has no business reaching: link-local (where cloud metadata
    services live), multicast, unspecified and reserved ones. Private networks stay allowed
    (chat servers often live there). Returns the address to connect to: every address the name
    resolves to is checked, and the connection goes to the first of them, not to a new lookup."""
    parts = urlsplit(url)
    where = redact_url(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise DeliveryFailed(f"Could not reach {where}: its name does not resolve.") from None
    addresses = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if address.is_link_local or address.is_multicast or address.is_unspecified or address.is_reserved:
            raise DeliveryFailed(
                f"{where} points to {address}, a link-local or reserved address: webhooks may not go there."
            )
        addresses.append(str(address))
    if not addresses:
        raise DeliveryFailed(f"Could not reach {where}: its name does not resolve.")
    return addresses[0]


def post_webhook(url: str, body: dict[str, Any]) -> int:
    """POST the JSON body; returns the HTTP status, or raises DeliveryFailed with a reason in words."""
    data = json.dumps(body, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
    if settings.REVIEW_WEBHOOK_SECRET:
        digest = hmac.new(settings.REVIEW_WEBHOOK_SECRET.encode(), data, hashlib.sha256).hexdigest()
        headers["X-Sextant-Signature"] = f"sha256={digest}"
    if urlsplit(url).scheme not in ("http", "https"):
        raise DeliveryFailed("The webhook address must start with http:// or https://.")
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310 - http(s) only
    where = redact_url(url)
    address = check_destination(url)
    # Through a proxy (the environment's http_proxy/https_proxy), the proxy connects, and its own
    # rules decide where webhooks may go; the address check above still refuses what it refuses.
    parts = urlsplit(url)
    proxied = parts.scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(parts.hostname or "")
    try:
        with _opener(None if proxied else address).open(
            request, timeout=settings.REVIEW_WEBHOOK_TIMEOUT_SECONDS
        ) as response:
            return response.status
    except urllib.error.HTTPError as error:
        raise DeliveryFailed(f"{where} answered {error.code} {error.reason}.") from None
    except TimeoutError:
        raise DeliveryFailed(
            f"{where} did not answer within {settings.REVIEW_WEBHOOK_TIMEOUT_SECONDS:g} seconds."
        ) from None
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, TimeoutError):
            raise DeliveryFailed(
                f"{where} did not answer within {settings.REVIEW_WEBHOOK_TIMEOUT_SECONDS:g} seconds."
            ) from None
        words = reason.strerror if isinstance(reason, OSError) and reason.strerror else str(reason)
        raise DeliveryFailed(f"Could not reach {where}: {words}.") from None
    except OSError as error:
        raise DeliveryFailed(f"Could not reach {where}: {error.strerror or type(error).__name__}.") from None


# Email


def email_message(review: Review, recipients: list[str]) -> EmailMultiAlternatives:
    """The summary as plain text with an HTML alternative (every user text escaped)."""
    items = _items(review)
    actions = _actions(review)
    headline = [i for i in items if i.section == Section.NORTH_STAR]
    commented = [i for i in items if i.comment]
    url = review_url(review)
    week = f"{review.week:%d %b %Y}"
    subject = f"{review.team.name}: weekly review, week of {week}"

    def numbers(item) -> str:  # type: ignore[no-untyped-def]
        parts = [item.display_value or "—"]
        if item.display_week_change:
            parts.append(f"{item.display_week_change} vs last week")
        if item.display_4w_change:
            parts.append(f"{item.display_4w_change} vs 4 weeks ago")
        if item.display_target:
            parts.append(f"target {item.display_target}")
        if item.effective_status:
            parts.append(_status_label(item.effective_status).lower())
        return " · ".join(parts)

    def action_line(action) -> str:  # type: ignore[no-untyped-def]
        owner = action.owner.get_username() if action.owner else "no owner"
        due = f", due {action.due_date:%d %b}" if action.due_date else ""
        state = "done" if action.done else "open"
        return f"{action.title} ({owner}{due}, {state})"

    text = [f"{review.team.name} — weekly review, week of {week}", ""]
    if review.summary:
        text += [review.summary, ""]
    if headline:
        text.append("Headline")
        text += [f"- {i.title}: {numbers(i)}" for i in headline]
        text.append("")
    if commented:
        text.append("Notes")
        for item in commented:
            text.append(f"- {item.title} ({dict(Section.choices)[item.section].lower()}): {numbers(item)}")
            text.append(f"  {item.comment}")
            if item.status_override:
                text.append(f"  Status set to {_status_label(item.status_override).lower()}: {item.override_reason}")
        text.append("")
    text.append("Action items")
    text += [f"- {action_line(a)}" for a in actions] or ["- None."]
    text += ["", f"Read the review: {url}"]

    html_parts = [format_html("<h1>{} — weekly review, week of {}</h1>", review.team.name, week)]
    if review.summary:
        html_parts.append(format_html("<p>{}</p>", review.summary))
    if headline:
        html_parts.append(
            format_html(
                "<h2>Headline</h2><ul>{}</ul>",
                format_html_join("", "<li><strong>{}</strong>: {}</li>", ((i.title, numbers(i)) for i in headline)),
            )
        )
    if commented:
        html_parts.append(
            format_html(
                "<h2>Notes</h2><ul>{}</ul>",
                format_html_join(
                    "",
                    "<li><strong>{}</strong>: {}<br>{}</li>",
                    ((i.title, numbers(i), i.comment) for i in commented),
                ),
            )
        )
    html_parts.append(
        format_html(
            "<h2>Action items</h2><ul>{}</ul>",
            format_html_join("", "<li>{}</li>", ((action_line(a),) for a in actions))
            if actions
            else mark_safe("<li>None.</li>"),  # noqa: S308 - a constant
        )
    )
    html_parts.append(format_html('<p><a href="{}">Read the review</a></p>', url))
    html = "".join(str(part) for part in html_parts)

    message = EmailMultiAlternatives(
        subject=subject,
        body="\n".join(text),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
    )
    message.attach_alternative(f"<!doctype html><html><body>{html}</body></html>", "text/html")
    return message


def send_email(review: Review, recipients: list[str]) -> None:
    try:
        email_message(review, recipients).send(fail_silently=False)
    except Exception as error:  # noqa: BLE001 - SMTP errors come in many classes; report them in words
        raise DeliveryFailed(f"The mail server refused the message: {str(error)[:300]}") from None
