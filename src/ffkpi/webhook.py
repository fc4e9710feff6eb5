"""Posting the review to a Slack incoming webhook, from cron. I/O.

The webhook's URL is a secret (whoever has it can post to the channel): it is never
printed, and it goes over https, or plain http to this machine only (tests)."""

import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from ffkpi.errors import UsageError, WebhookError

ENV_WEBHOOK = "FFKPI_SLACK_WEBHOOK"
LOCAL = ("localhost", "127.0.0.1", "::1")
TIMEOUT = 30.0  # seconds


def post(url: str, text: str, timeout: float = TIMEOUT) -> None:
    """Post `text` as one Slack message; an error says so, never showing the URL."""
    parts = urlsplit(url.strip())
    if not (parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOCAL)):
        raise UsageError(
            "the Slack webhook must be an https:// URL",
            f"copy it from Slack's incoming webhooks into --post-to or {ENV_WEBHOOK}",
        )
    body = json.dumps({"text": text}).encode()
    request = urllib.request.Request(
        url.strip(), data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read()
    except urllib.error.HTTPError as err:
        raise WebhookError(
            f"the Slack webhook answered HTTP {err.code}", "check the webhook is still active"
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise WebhookError(
            f"the Slack webhook cannot be reached ({reason})", "check the network, then run again"
        ) from None
