"""``python -m hub_tools`` runs the ``adamllm`` command line."""

import sys

from hub_tools.cli import main

sys.exit(main())
