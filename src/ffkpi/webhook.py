"""Posting the review to a Slack incoming webhook, from cron. I/O.

The webhook's URL is a secret (whoever has it can post to the channel): it is never
printed, not even in part, and it goes over https, or plain http to this machine only
(tests). A post is one POST answered 200: a redirect is not followed (it would turn the
post into a GET elsewhere and report success), and the whole exchange has one deadline,
so a server that answers a byte a second cannot keep cron waiting.
"""

import http.client
import json
import string
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from ffkpi.errors import UsageError, WebhookError

ENV_WEBHOOK = "FFKPI_SLACK_WEBHOOK"
LOCAL = ("localhost", "127.0.0.1", "::1")
TIMEOUT = 30.0  # seconds for the whole exchange
MAX_ANSWER = 64 * 1024  # bytes of the answer read: Slack says "ok"
_ALLOWED = set(string.ascii_letters + string.digits + "-._~:/?#[]@!$&'()*+,;=%")


@dataclass(frozen=True, slots=True)
class _Target:
    secure: bool
    host: str
    port: int | None
    path: str


def _target(url: str) -> _Target:
    """The URL's parts, or one line that never repeats the URL."""
    fix = f"copy it from Slack's incoming webhooks into --post-to or {ENV_WEBHOOK}"
    text = url.strip()
    if not text or not set(text) <= _ALLOWED:
        raise UsageError(
            "the Slack webhook URL holds a space, a control character or a character URLs "
            "never hold",
            fix,
        )
    try:
        parts = urlsplit(text)
        host, port = parts.hostname, parts.port
    except ValueError:  # a broken [IPv6] host, a port that is no number or out of range
        raise UsageError("the Slack webhook URL has a broken host or port", fix) from None
    if not host or not (parts.scheme == "https" or (parts.scheme == "http" and host in LOCAL)):
        raise UsageError("the Slack webhook must be an https:// URL", fix)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return _Target(parts.scheme == "https", host, port, path)


def post(url: str, text: str, timeout: float = TIMEOUT) -> None:
    """Post `text` as one Slack message; an error says so, never showing the URL."""
    target = _target(url)
    body = json.dumps({"text": text}).encode()
    kind = http.client.HTTPSConnection if target.secure else http.client.HTTPConnection
    connection = kind(target.host, target.port, timeout=timeout)
    outcome: list[int | BaseException] = []

    def exchange() -> None:
        try:
            connection.request("POST", target.path, body, {"Content-Type": "application/json"})
            answer = connection.getresponse()
            answer.read(MAX_ANSWER)
            outcome.append(answer.status)
        except (OSError, http.client.HTTPException) as err:
            outcome.append(err)

    worker = threading.Thread(target=exchange, name="ffkpi-webhook", daemon=True)
    worker.start()
    worker.join(timeout)
    connection.close()  # ends a read still waiting on a slow server
    if not outcome:
        raise WebhookError(
            f"the Slack webhook did not answer within {timeout:g} s",
            "check the network and the webhook, then run again",
        )
    status = outcome[0]
    if isinstance(status, BaseException):
        reason = getattr(status, "strerror", None) or type(status).__name__
        raise WebhookError(
            f"the Slack webhook cannot be reached ({reason})", "check the network, then run again"
        )
    if 300 <= status < 400:
        raise WebhookError(
            f"the Slack webhook answered with a redirect (HTTP {status}), so nothing was posted",
            "check the URL is the one Slack gave for the channel",
        )
    if status != 200:
        raise WebhookError(
            f"the Slack webhook answered HTTP {status}", "check the webhook is still active"
        )
