"""Audit tools over a rulebook and its outcomes: coverage, lint, diff, what-if, explain and decision records."""
