"""The offline miniature: a procedurally drawn world, tiny random-weight models, a tiny synthesizer, the quickstart.

Imported by the CLI, the tests and the benchmarks only; the core (everything else in ``hub_tools``) never
imports it.
"""
