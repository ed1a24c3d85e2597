# Copyright 2025 adamllm-hub contributors. Licensed under the Apache License, Version 2.0.
"""ROUGE-L F-measure as the `rouge` PyPI package computes it (Recipe1M in AdaMLLM)."""

import datasets
import evaluate
from rouge import Rouge

_NAME = "rouge_l"
_EXAMPLE_CALL = 'metric.compute(predictions=["mix the flour"], references=["mix flour"])'
"""A complete call, quoted by the error of a call that lacks an input."""

_CITATION = """\
@article{cheng2024adamllm,
  title={On Domain-Specific Post-Training for Multimodal Large Language Models},
  author={Cheng, Daixuan and Huang, Shaohan and Zhu, Ziyu and Zhang, Xintong and Zhao, Wayne Xin and Luan, Zhongzhi
          and Dai, Bo and Zhang, Zhenliang},
  journal={arXiv preprint arXiv:2411.19930},
  year={2024}
}
@inproceedings{lin2004rouge,
  title={{ROUGE}: A Package for Automatic Evaluation of Summaries},
  author={Lin, Chin-Yew},
  booktitle={Text Summarization Branches Out},
  pages={74--81},
  year={2004}
}
"""

_DESCRIPTION = """\
ROUGE-L F-measure used by AdaMLLM (arXiv 2411.19930) for Recipe1M recipe generation.

Each prediction/reference pair is scored with `Rouge().get_scores(prediction, reference)[0]["rouge-l"]["f"]`
of the `rouge` package (pltrdy, 1.0.1): texts are split into sentences at periods and into words at
spaces (no lower-casing, no stemming), and the summary-level union-LCS F-measure is taken. A pair the
package cannot score (for instance an empty prediction, or one too long for its recursive LCS) scores
0. The result is the mean over pairs. It is not the same number as the `rouge_score` package's rougeL.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): generated texts.
    references (`list` of `str`): reference texts, one per prediction.
Returns:
    rouge_l (`float`): mean ROUGE-L F-measure, in [0, 1] (0.0 for no pairs).
Raises:
    ValueError: when the two lists differ in length or hold non-strings.
Examples:
    >>> metric = evaluate.load("rouge_l")
    >>> results = metric.compute(
    ...     predictions=["mix the flour and sugar. bake for 20 minutes.", ""],
    ...     references=["mix flour with sugar. bake 20 minutes.", "serve warm."],
    ... )
    >>> print(round(results["rouge_l"], 4))
    0.375
"""


def rouge_l_f(prediction, reference, scorer=None):
    """ROUGE-L F of one pair with the `rouge` package; 0.0 when the package raises.

    >>> round(rouge_l_f("the cat sat", "the cat sat down"), 4)
    0.8571
    >>> rouge_l_f("", "anything")
    0.0
    """
    scorer = scorer if scorer is not None else Rouge()
    try:
        return float(scorer.get_scores(prediction, reference)[0]["rouge-l"]["f"])
    except Exception:  # the published protocol scores any failing pair 0
        return 0.0


def _check_inputs(predictions, references, offset=0):
    """Raise ValueError on mismatched lengths or non-string values."""
    if len(predictions) != len(references):
        raise ValueError(
            f"predictions and references must have the same length, got {len(predictions)} and {len(references)}"
        )
    for index, (prediction, reference) in enumerate(zip(predictions, references)):
        if not isinstance(prediction, str):
            raise ValueError(f"predictions[{index + offset}] must be a string, got {prediction!r}")
        if not isinstance(reference, str):
            raise ValueError(f"references[{index + offset}] must be a string, got {reference!r}")


def _require_inputs(given, example):
    """Raise one ``ValueError`` naming the inputs a ``compute`` call lacks, with a complete example call.

    ``given`` maps every required input to its value; a call that gives none of them scores what ``add`` /
    ``add_batch`` buffered, so it passes.
    """
    missing = [name for name, value in given.items() if value is None]
    if missing and len(missing) < len(given):
        raise ValueError(f"{_NAME}: missing {' and '.join(missing)}; compute needs {', '.join(given)}, e.g. {example}")


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class RougeL(evaluate.Metric):
    """Mean ROUGE-L F-measure of the `rouge` package, failing pairs scoring 0."""

    def _info(self):
        """Describe the metric and its input features."""
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Value("string"),
                    "references": datasets.Value("string"),
                }
            ),
            codebase_urls=["https://github.com/pltrdy/rouge"],
            reference_urls=["https://arxiv.org/abs/2411.19930", "https://aclanthology.org/W04-1013"],
        )

    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Validate a batch, then add it to the metric's buffer."""
        if predictions is not None and references is not None:
            _check_inputs(predictions, references, offset=getattr(self, "_rows_added", 0))
        super().add_batch(predictions=predictions, references=references, **kwargs)
        self._rows_added = getattr(self, "_rows_added", 0) + len(predictions or [])

    def add(self, *, prediction=None, reference=None, **kwargs):
        """Validate one example, then add it to the metric's buffer."""
        if prediction is not None and reference is not None:
            _check_inputs([prediction], [reference], offset=getattr(self, "_rows_added", 0))
        super().add(prediction=prediction, reference=reference, **kwargs)
        self._rows_added = getattr(self, "_rows_added", 0) + 1

    def compute(self, *, predictions=None, references=None, **kwargs):
        """Compute the score; see the module description for the arguments."""
        _require_inputs({"predictions": predictions, "references": references}, _EXAMPLE_CALL)
        try:
            return super().compute(predictions=predictions, references=references, **kwargs)
        finally:
            self._rows_added = 0

    def _compute(self, predictions, references):
        """Score every pair and average."""
        _check_inputs(predictions, references)
        scorer = Rouge()
        scores = [rouge_l_f(prediction, reference, scorer) for prediction, reference in zip(predictions, references)]
        return {"rouge_l": sum(scores) / len(scores) if scores else 0.0}
