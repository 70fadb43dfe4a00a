"""Rulebooks: loading a folder of YAML rules into a checked Rulebook, and parameter overlays."""
