"""The past, pure: timeline (a subscription at a past instant, from its invoices),
rebuild (the weeks swept), growth (week over week against the target), movements (the
bridge and the rates) and reconcile (the read against its own instant rebuilt).

No I/O, no clock, no environment: the as-of days and the read's instant come in.
"""
