"""Today's MRR, pure: money (digits, exact sums, the one rounding), model (Stripe-neutral
values), pricing (one item's monthly amount, its discounts), exclusions (why 0), mrr
(the rules of docs/mrr-rules.md -> a Report) and documents (a report as plain data).

No I/O, no clock, no environment: everything comes in as arguments.
"""
