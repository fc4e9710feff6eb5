"""The table of Stripe list endpoints is the one place a list is described: every part
that reads, keeps, parses, checks or serves a list goes through it."""

import json
from typing import get_type_hints

import msgspec
import pytest
from test_payload_types import SDK

from conftest import DEMO
from fake_stripe import RESOURCE_OF, SECRET_KEY, FakeStripe
from ffkpi.sources.files import parse_input
from ffkpi.stripe.bundle import Bundle
from ffkpi.stripe.http import StripeHttp
from ffkpi.stripe.lists import ENDPOINTS, PERMISSIONS, Endpoint


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.key)
def test_every_endpoint_is_kept_checked_decoded_and_served(endpoint: Endpoint) -> None:
    assert endpoint.key in get_type_hints(Bundle)  # the bundle keeps its objects
    assert PERMISSIONS[endpoint.path] == endpoint.permission  # a restricted key is checked
    assert endpoint.payload in SDK  # its payload type is checked against the SDK's
    assert endpoint.path.removeprefix("/v1/") in RESOURCE_OF  # the fake Stripe serves it
    assert all(e.count(".") < 4 for e in endpoint.expand)  # within Stripe's expansion depth


def test_a_bundle_key_of_every_endpoint_is_read() -> None:
    """Each key the table names is decoded from a bundle: the demo's objects come back."""
    data = parse_input(json.dumps(DEMO).encode(), "demo", history=True)
    assert len(data.subscriptions) == len(DEMO["subscriptions"])
    named = {c["id"]: c["name"] for c in DEMO["customers"] if c["name"]}
    assert data.customer_names.of(c["id"] for c in DEMO["customers"]) == named
    assert {endpoint.key for endpoint in ENDPOINTS} <= set(DEMO)


def test_the_fake_serves_every_endpoint_in_its_payload_type() -> None:
    fake = FakeStripe(DEMO)
    url = fake.start()
    try:
        http = StripeHttp(SECRET_KEY, api_base=url, max_rps=1000)
        for endpoint in ENDPOINTS:
            page = msgspec.json.decode(
                http.get(endpoint.path, endpoint.params()), type=endpoint.page
            )
            assert page.data, endpoint.key
            assert all(isinstance(entry, endpoint.payload) for entry in page.data)
    finally:
        fake.stop()
