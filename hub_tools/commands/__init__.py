"""Subcommands of ``adamllm``: one module each, light imports only (see ``hub_tools.cli``)."""
