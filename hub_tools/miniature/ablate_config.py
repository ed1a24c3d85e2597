"""The sizes of an ``adamllm ablate`` run (:class:`AblationConfig`), apart so the blocks that read them
(:mod:`hub_tools.miniature.ablate_synth`) need not import the run itself."""

from __future__ import annotations

from dataclasses import dataclass, replace

from hub_tools.miniature.quickstart import QuickstartConfig
from hub_tools.miniature.world.params import DEFAULT_DOMAIN, REMOTE_SENSING


@dataclass
class AblationConfig:
    """Sizes of the ablation run; :meth:`small` is the smoke test (the test suite runs it)."""

    seeds: int = 3
    # the quickstart world and the main synthesizer are the quickstart's (its defaults, read from QuickstartConfig)
    world_seed: int = QuickstartConfig.seed
    seed_images: int = QuickstartConfig.seed_images
    pairs: int = QuickstartConfig.pairs
    pretrain_steps: int = QuickstartConfig.pretrain_steps
    tune_steps: int = QuickstartConfig.tune_max_steps
    variant_steps: int = 200
    synthesizer_inputs: bool = True
    measure_pairs: int | None = QuickstartConfig.measure_pairs
    synth_max_new_tokens: int = QuickstartConfig.synth_max_new_tokens
    # the ablation's world and students
    domain_pairs: int = 200
    benchmark_per_task: int = 800
    """Items per task (at least; balanced per question string): 800 so the default run can see a 5-point difference
    (the 300-item run measured a paired SE of 1.78, item variance dominating: MDD 6.4)."""
    general_rows: int = 3000
    general_dev: int = 360
    """General dev items written (a sixth are captions, not scored: 300 scored questions)."""
    general_steps: int = 2000
    general_students: int = 1
    """Distinct general students (seed ``s`` post-trains from general student ``s % general_students``): one by
    default, to fit the budget; every seed's post-training and scoring is then paired on it."""
    general_lr: float = 2e-3
    general_batch: int = 32
    lr_grid: tuple[float, ...] = (5e-4, 1e-3, 2e-3)
    max_epochs: int = 8
    post_batch: int = 16
    patience: int = 2
    bootstrap: int = 1000
    generated_items: int = 100
    """Items per task whose greedy answers are scored with the released metrics (the secondary metric)."""
    gate_margin: float = 20.0
    gray_tolerance: float = 3.0
    allow_failed_gate: bool = False
    smoke_test: bool = False
    cached_synthesizer: bool = False
    """Use the tiny cache's tuned synthesizer as the main one (no tuning): the small run's shortcut."""
    threads: int | str = "auto"
    domain: str = DEFAULT_DOMAIN
    """The domain: scans and plates (the default) or ``remote-sensing`` (aerial scenes: the synthesizer's world, the
    domain pairs and the benchmark; the general rows are the same shapes)."""

    @classmethod
    def small(cls, seeds: int = 2, domain: str = DEFAULT_DOMAIN) -> AblationConfig:
        """A smoke test that exercises every condition and block; it cannot speak to the paper.

        ``remote-sensing``: the tiny cache's synthesizer was tuned on scans and plates, so the smoke test tunes its
        own on the aerial seed set at the quickstart ``--small`` sizes (150 text-pretraining and 200 tuning steps).
        """
        if domain == REMOTE_SENSING:
            return replace(
                cls.small(seeds), domain=domain, pretrain_steps=150, tune_steps=200, cached_synthesizer=False
            )
        return cls(
            seeds=seeds,
            seed_images=24,
            pairs=16,
            pretrain_steps=0,
            tune_steps=0,
            variant_steps=4,
            measure_pairs=2,
            synth_max_new_tokens=96,
            domain_pairs=24,
            benchmark_per_task=24,
            general_rows=96,
            general_dev=48,
            general_steps=12,
            lr_grid=(1e-3,),
            max_epochs=2,
            bootstrap=100,
            generated_items=8,
            smoke_test=True,
            cached_synthesizer=True,
        )
