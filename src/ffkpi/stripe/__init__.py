"""The Stripe API: requests (http), lists (paging), payloads, and what a run reads (account).

Only `http` touches the stripe SDK's internals; everything else sees bytes and payloads.
"""
