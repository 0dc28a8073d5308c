"""``python -m sctpctl`` runs the command line."""

from sctpctl.cli.main import main

main()
