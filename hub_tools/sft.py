"""``accelerate launch -m hub_tools.sft --config RECIPE.yaml``: the documented entry of the SFT recipe.

The recipe lives in :mod:`hub_tools.training.sft`; this module only keeps the documented command working.
"""

from hub_tools.redaction import install
from hub_tools.training.sft import main, parse_args

if __name__ == "__main__":
    install()  # no secret of the recipe in a log line, warning or traceback
    main(*parse_args())
