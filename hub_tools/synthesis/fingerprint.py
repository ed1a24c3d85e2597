"""Moved to :mod:`hub_tools.data.fingerprint` (the input's fingerprint belongs with the input, below ``rundir/``).

This name stays an alias of that module (the same module object, so attributes set here are set there) until
``hub_tools/synthesis/runner.py`` imports it from its new place.
"""

import sys

from hub_tools.data import fingerprint as _moved

sys.modules[__name__] = _moved
