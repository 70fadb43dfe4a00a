"""Evaluation backends (internal). Each turns (rulebook, organisation views, as_of) into outcomes."""
