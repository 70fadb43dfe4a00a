"""Rendering for people: the rule reference pages and the evaluation report."""
