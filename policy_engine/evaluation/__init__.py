"""Evaluation: the reference interpreter, the status decision, cohorts, the backends and the evaluate API."""
