"""``accelerate launch -m hub_tools.sft --config RECIPE.yaml``: the documented entry of the SFT recipe.

The recipe lives in :mod:`hub_tools.training.sft`; this module only keeps the documented command working.
"""

from hub_tools.redaction import install, redact_text
from hub_tools.training.sft import main, parse_args

if __name__ == "__main__":
    import sys

    from hub_tools.training.arguments import RecipeError

    install()  # no secret of the recipe in a log line, warning or traceback
    try:
        parsed = parse_args()
    except RecipeError as err:  # an unknown key, broken YAML: one line naming the file
        sys.exit(redact_text(f"python -m hub_tools.sft: error: {err}"))
    main(*parsed)
