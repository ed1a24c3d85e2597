"""adamllm-hub: adapt multimodal LLMs to a domain by post-training on synthesized visual instruction tasks.

The import name is ``hub_tools``; the command line is ``adamllm``. Heavy libraries (torch,
transformers, datasets) are imported inside the functions that need them so that importing
this package and ``adamllm --help`` stay instant.
"""

__version__ = "0.1.0"
