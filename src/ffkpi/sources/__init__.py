"""Where subscriptions come from: Stripe JSON files, the bundled demo, live Stripe."""
