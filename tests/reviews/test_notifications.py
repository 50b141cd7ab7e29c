"""What a closed review sends: the email summary, and the webhook against a real local receiver."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from reviews import services, tasks
from reviews.models import Delivery, Section
from reviews.notifications import payload, redact_url
from tests.reviews.factories import ReviewScheduleFactory, metric_with_series

pytestmark = pytest.mark.django_db

TOKEN = "T0KEN-s3cret-path"


class Receiver:
    """A real HTTP server in a thread that answers with the given status codes in turn (then 200)."""

    def __init__(self, statuses: list[int]):
        self.statuses = list(statuses)
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere")
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"boom")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hooks/{TOKEN}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fast_retries(settings):
    settings.REVIEW_WEBHOOK_MAX_RETRIES = 2
    settings.REVIEW_WEBHOOK_BACKOFF_SECONDS = 0.01
    settings.REVIEW_WEBHOOK_TIMEOUT_SECONDS = 2
    settings.REVIEW_WEBHOOK_SECRET = "signing-key"
    return settings


def closed_review(team, by, webhook_url="", capture=None):
    ReviewScheduleFactory(team=team, webhook_url=webhook_url)
    metric_with_series(
        team, [100.0] * 28 + [120.0], is_north_star=True, name="Weekly active analysts", target_value=150
    )
    review = services.review_prepare(team=team, by=by, refresh=False)
    item = review.items.get(section=Section.NORTH_STAR)
    services.item_comment(item=item, comment="<script>alert(1)</script> Launch week.", by=by, expected_version=1)
    services.action_add(review=review, title="Check the <b>funnel</b>", by=by, owner=by)
    with capture(execute=True):
        return services.review_close(review=review, by=by, summary="A good week.")


def test_webhook_that_fails_twice_then_succeeds_ends_sent_after_three_attempts(
    team, team_admin, fast_retries, django_capture_on_commit_callbacks
):
    with Receiver([500, 500]) as receiver:
        review = closed_review(team, team_admin, receiver.url, django_capture_on_commit_callbacks)
    delivery = review.deliveries.get(channel="webhook")
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 3, "")
    assert delivery.sent_at is not None
    assert len(receiver.requests) == 3
    request = receiver.requests[-1]
    assert request["path"] == f"/hooks/{TOKEN}"
    assert request["headers"]["Content-Type"].startswith("application/json")
    expected = hmac.new(b"signing-key", request["body"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-Sextant-Signature"] == f"sha256={expected}"
    body = json.loads(request["body"])
    assert body["event"] == "review.closed" and body["version"] == 1
    assert body["team"] == {"slug": "data", "name": "Data Team"}
    assert body["review"]["summary"] == "A good week." and body["review"]["closed_by"] == "ada"
    assert body["review"]["url"].endswith(f"/t/data/reviews/{review.pk}/")
    assert body["headline"] == [
        {
            "title": "Weekly active analysts",
            "value": "120",
            "week_change": "+20.0% (+20)",
            "four_week_change": "+20.0% (+20)",
            "target": "150",
            "status": "at_risk",
        }
    ]
    assert body["items"][0]["comment"] == "<script>alert(1)</script> Launch week."
    assert body["actions"] == [
        {
            "title": "Check the <b>funnel</b>",
            "owner": "ada",
            "due_date": None,
            "done": False,
            "raised_in_week": review.week.isoformat(),
        }
    ]
    # The email went too.
    assert review.deliveries.get(channel="email").status == "sent"


def test_webhook_that_always_fails_ends_failed_with_the_reason_and_no_secret(
    team, team_admin, fast_retries, django_capture_on_commit_callbacks
):
    with Receiver([500] * 10) as receiver:
        review = closed_review(team, team_admin, receiver.url, django_capture_on_commit_callbacks)
    delivery = review.deliveries.get(channel="webhook")
    port = receiver.server.server_port
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert len(receiver.requests) == 3
    assert delivery.last_error == (
        f"Gave up after 3 attempts. Last error: http://127.0.0.1:{port}/… answered 500 Internal Server Error."
    )
    assert delivery.target == f"http://127.0.0.1:{port}/…"
    assert TOKEN not in delivery.last_error + delivery.target


def test_webhook_to_a_closed_port_says_it_could_not_reach_it(
    team, team_admin, fast_retries, django_capture_on_commit_callbacks
):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    review = closed_review(team, team_admin, f"http://127.0.0.1:{port}/x/{TOKEN}", django_capture_on_commit_callbacks)
    delivery = review.deliveries.get(channel="webhook")
    assert delivery.status == "failed"
    assert f"Could not reach http://127.0.0.1:{port}/…: Connection refused." in delivery.last_error
    assert TOKEN not in delivery.last_error


def test_email_summary_has_numbers_comments_actions_and_escapes_html(
    team, team_admin, editor, viewer, fast_retries, django_capture_on_commit_callbacks, mailoutbox
):
    review = closed_review(team, team_admin, capture=django_capture_on_commit_callbacks)
    assert list(review.deliveries.values_list("channel", flat=True)) == ["email"]  # no webhook set
    (message,) = mailoutbox
    assert message.subject == f"Data Team: weekly review, week of {review.week:%d %b %Y}"
    assert message.to == ["ada@example.com", "pam@example.com"]
    assert "vic@example.com" not in message.to  # viewers read the review; they are not mailed
    text = message.body
    assert "A good week." in text
    assert (
        "- Weekly active analysts: 120 · +20.0% (+20) vs last week · +20.0% (+20) vs 4 weeks ago · target 150 · at risk"
        in text
    )
    assert "<script>alert(1)</script> Launch week." in text  # plain text is plain
    assert "Check the <b>funnel</b> (ada, open)" in text
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; Launch week." in html
    assert "Check the &lt;b&gt;funnel&lt;/b&gt; (ada, open)" in html
    assert f'href="http://127.0.0.1:8000/t/data/reviews/{review.pk}/"' in html


def test_a_failing_mail_server_is_recorded_and_retried(
    team, team_admin, fast_retries, django_capture_on_commit_callbacks, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 1
    review = closed_review(team, team_admin, capture=django_capture_on_commit_callbacks)
    delivery = review.deliveries.get()
    assert (delivery.channel, delivery.status, delivery.attempts) == ("email", "failed", 3)
    assert delivery.last_error.startswith("Gave up after 3 attempts. Last error: The mail server refused the message")


def test_a_delivery_already_sent_is_not_sent_again(team, team_admin, fast_retries, django_capture_on_commit_callbacks):
    with Receiver([]) as receiver:
        review = closed_review(team, team_admin, receiver.url, django_capture_on_commit_callbacks)
        delivery = review.deliveries.get(channel="webhook")
        assert tasks.send_webhook.delay(delivery.pk).get() == "already sent"
    assert len(receiver.requests) == 1
    assert Delivery.objects.get(pk=delivery.pk).attempts == 1


def test_backoff_grows_exponentially_with_jitter(settings):
    settings.REVIEW_WEBHOOK_BACKOFF_SECONDS = 10
    for retries in range(5):
        wait = tasks.backoff(retries)
        assert 10 * 2**retries <= wait <= 10 * 2**retries + 10
    assert len({round(tasks.backoff(0), 6) for _ in range(20)}) > 1  # jittered


def test_redacted_urls_keep_only_scheme_and_host():
    assert redact_url("https://hooks.slack.com/services/T0/B0/XYZ") == "https://hooks.slack.com/…"
    assert redact_url("https://user:pw@example.com:8443/hook?token=abc") == "https://example.com:8443/…"
    assert redact_url("https://example.com/") == "https://example.com/"


def test_payload_of_a_review_without_items(team, team_admin):
    review = services.review_prepare(team=team, by=team_admin, refresh=False)
    data = payload(review)
    assert (data["headline"], data["items"], data["actions"]) == ([], [], [])
    assert data["review"]["closed_at"] is None


def test_webhook_never_follows_a_redirect(team, team_admin, fast_retries, django_capture_on_commit_callbacks):
    with Receiver([302] * 10) as receiver:
        review = closed_review(team, team_admin, receiver.url, django_capture_on_commit_callbacks)
    delivery = review.deliveries.get(channel="webhook")
    assert delivery.status == "failed"
    assert delivery.last_error.endswith("answered 302 Found.")
    assert [r["path"] for r in receiver.requests] == [f"/hooks/{TOKEN}"] * 3


def test_webhook_to_a_link_local_address_is_refused(team, team_admin, fast_retries, django_capture_on_commit_callbacks):
    review = closed_review(
        team, team_admin, "http://169.254.169.254/latest/meta-data/", django_capture_on_commit_callbacks
    )
    delivery = review.deliveries.get(channel="webhook")
    assert delivery.status == "failed"
    assert "points to 169.254.169.254, a link-local or reserved address" in delivery.last_error


@pytest.fixture
def rebinding_name(monkeypatch) -> list[str]:
    """DNS rebinding: "hooks.example" resolves to 127.0.0.1 on its first lookup and to the cloud
    metadata address on every later one. Returns the lookups of that name, as they happen."""
    real_getaddrinfo = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host, port, *args, **kwargs):
        if host != "hooks.example":
            return real_getaddrinfo(host, port, *args, **kwargs)
        lookups.append(host)
        address = "127.0.0.1" if len(lookups) == 1 else "169.254.169.254"
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    return lookups


def _certificates(tmp_path, name: str) -> tuple[str, str, str]:
    """A throwaway certificate authority and a server certificate it signed for `name`: the paths
    of the authority's certificate, the server's certificate and the server's key (PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject, issuer, public_key, signing_key, *, ca: bool, san: str | None = None):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
        return builder.sign(signing_key, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("Test CA", "Test CA", ca_key.public_key(), ca_key, ca=True)
    server = certificate(name, "Test CA", server_key.public_key(), ca_key, ca=False, san=name)
    paths = [tmp_path / f for f in ("ca.pem", "server.pem", "server.key")]
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return tuple(str(path) for path in paths)


@pytest.mark.parametrize(("certified_name", "sent"), [("hooks.example", True), ("other.example", False)])
def test_https_webhook_connects_to_the_checked_address_and_still_checks_the_name(
    team,
    team_admin,
    fast_retries,
    django_capture_on_commit_callbacks,
    monkeypatch,
    tmp_path,
    rebinding_name,
    certified_name,
    sent,
):
    """The pinned HTTPS connection: it goes to the address the check vetted (the name rebinds to
    the metadata address afterwards), while SNI and the certificate check still use the name. A
    certificate for another name is refused, pinned or not."""
    fast_retries.REVIEW_WEBHOOK_MAX_RETRIES = 0  # one attempt: its error is the one kept
    ca, cert, key = _certificates(tmp_path, certified_name)
    monkeypatch.setenv("SSL_CERT_FILE", ca)  # the default context trusts the throwaway authority
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    with Receiver([]) as receiver:
        receiver.server.socket = server_context.wrap_socket(receiver.server.socket, server_side=True)
        url = f"https://hooks.example:{receiver.server.server_port}/hooks/{TOKEN}"
        review = closed_review(team, team_admin, url, django_capture_on_commit_callbacks)
    delivery = review.deliveries.get(channel="webhook")
    if sent:
        assert (delivery.status, delivery.attempts) == ("sent", 1), delivery.last_error
        assert receiver.requests[0]["headers"]["Host"] == f"hooks.example:{receiver.server.server_port}"
    else:
        assert delivery.status == "failed" and receiver.requests == []
        assert "certificate" in delivery.last_error.lower(), delivery.last_error
    assert rebinding_name == ["hooks.example"]  # looked up once, by the check


def test_webhook_connects_to_the_address_it_checked_not_to_a_second_lookup(
    team, team_admin, fast_retries, django_capture_on_commit_callbacks, rebinding_name
):
    """DNS rebinding: a name that resolves to an allowed address when checked and to the cloud
    metadata address a moment later must still reach only the address that was checked."""
    with Receiver([]) as receiver:
        url = receiver.url.replace("127.0.0.1", "hooks.example")
        review = closed_review(team, team_admin, url, django_capture_on_commit_callbacks)
    delivery = review.deliveries.get(channel="webhook")
    assert (delivery.status, delivery.attempts) == ("sent", 1), delivery.last_error
    assert rebinding_name == ["hooks.example"]  # looked up once, by the check
    assert receiver.requests[0]["headers"]["Host"] == f"hooks.example:{receiver.server.server_port}"
