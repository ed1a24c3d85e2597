"""Post-training: the TRL SFT recipe (``-m hub_tools.sft``), its data and collator, and the synthesizer-tuning recipe."""
