"""One module per CLI verb; see studio/cli.py for the contract."""
