"""``accelerate launch -m hub_tools.synthesize ...``: the documented multi-process synthesis entry.

Same options as ``adamllm synthesize``; the runner lives in :mod:`hub_tools.synthesis.runner`.
"""

import sys

from hub_tools.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["synthesize", *sys.argv[1:]]))
