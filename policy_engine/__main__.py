"""``python -m policy_engine`` runs the command line."""

from .cli import main

main()
