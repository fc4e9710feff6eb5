"""The Tuesday review (docs/review-rules.md), pure: its figures from the history, the
movements and the recorded KPIs. Its renderers live in render/."""
