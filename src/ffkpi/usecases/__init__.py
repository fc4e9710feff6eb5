"""What ffkpi's commands do, one module a use case: each decides dates, sources and
order, so a command reads its options, calls one of these, and renders the result."""
