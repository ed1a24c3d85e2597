# Copyright 2025 adamllm-hub contributors. Licensed under the Apache License, Version 2.0.
"""Multi-label precision / recall / F1 over a label vocabulary found in free text (FoodSeg103, Nutrition5K)."""

import datasets
import evaluate

_NAME = "multilabel"
_EXAMPLE_CALL = 'metric.compute(predictions=["rice and beans"], references=[["rice"]], vocabulary=["rice", "bean"])'
"""A complete call, quoted by the error of a call that lacks an input."""

_CITATION = """\
@article{cheng2024adamllm,
  title={On Domain-Specific Post-Training for Multimodal Large Language Models},
  author={Cheng, Daixuan and Huang, Shaohan and Zhu, Ziyu and Zhang, Xintong and Zhao, Wayne Xin and Luan, Zhongzhi
          and Dai, Bo and Zhang, Zhenliang},
  journal={arXiv preprint arXiv:2411.19930},
  year={2024}
}
@inproceedings{yue2024mmmu,
  title={{MMMU}: A Massive Multi-discipline Multimodal Understanding and Reasoning Benchmark for Expert {AGI}},
  author={Yue, Xiang and Ni, Yuansheng and Zhang, Kai and Zheng, Tianyu and Liu, Ruoqi and Zhang, Ge and Stevens, Samuel
          and Jiang, Dongfu and Ren, Weiming and Sun, Yuxuan and Wei, Cong and Yu, Botao and Yuan, Ruibin and Sun, Renliang
          and Yin, Ming and Zheng, Boyuan and Yang, Zhenzhu and Liu, Yibo and Huang, Wenhao and Sun, Huan and Su, Yu
          and Chen, Wenhu},
  booktitle={Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year={2024}
}
"""

_DESCRIPTION = """\
Multi-label scores used by AdaMLLM (arXiv 2411.19930) for FoodSeg103 (F1) and Nutrition5K (recall):
the labels a model names in free text are matched against a fixed vocabulary.

For each example the prediction is lower-cased and the vocabulary names are searched as substrings,
longest name first; every name found is removed from the text before the next search, so
"green beans" is counted as "green bean" and not also as "bean". The found names and the reference
names become binary vectors over the vocabulary, and precision, recall and F1 of the positive class
are computed with scikit-learn's `zero_division=1` semantics:
precision = tp / predicted (1 when nothing is predicted), recall = tp / true (1 when the reference is
empty), F1 = 2 tp / (predicted + true) (1 when both are empty). The reported values are the means over
examples.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): model answers (free text naming labels).
    references (`list` of `list` of `str`): the gold labels of each example, as vocabulary names.
    vocabulary (`list` of `str`): every label name (exact duplicates are ignored; names must be non-empty).
Returns:
    f1 (`float`): mean per-example F1, in [0, 1].
    recall (`float`): mean per-example recall, in [0, 1].
    precision (`float`): mean per-example precision, in [0, 1].
    All three are 0.0 when there are no examples.
Raises:
    ValueError: when the input lists differ in length, the vocabulary is missing or holds an empty name,
        or a reference names a label that is not in the vocabulary.
Examples:
    >>> metric = evaluate.load("multilabel")
    >>> results = metric.compute(
    ...     predictions=["I see green beans and rice.", "Just some bread."],
    ...     references=[["green bean", "rice"], ["bread", "egg"]],
    ...     vocabulary=["bean", "green bean", "rice", "bread", "egg"],
    ... )
    >>> print(results)
    {'f1': 0.8333333333333333, 'recall': 0.75, 'precision': 1.0}
"""


def _check_vocabulary(vocabulary):
    """Return the vocabulary as a list of unique names (first occurrence kept), or raise ValueError."""
    if vocabulary is None:
        raise ValueError("vocabulary is required: pass vocabulary=[...] (the list of label names) to compute()")
    if isinstance(vocabulary, str):
        raise ValueError("vocabulary must be a list of label names, not a single string")
    names = []
    seen = set()
    for index, name in enumerate(vocabulary):
        if not isinstance(name, str) or not name:
            raise ValueError(f"vocabulary[{index}] must be a non-empty string, got {name!r}")
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def find_labels(prediction, vocabulary):
    """Return the set of vocabulary names found in ``prediction``, longest name first, each removed once found.

    >>> sorted(find_labels("Green beans with beans", ["bean", "green bean"]))
    ['bean', 'green bean']
    >>> sorted(find_labels("green beans", ["bean", "green bean"]))
    ['green bean']
    """
    text = prediction.lower()
    found = set()
    # sorted() is stable: names of equal length keep their vocabulary order.
    for name in sorted(vocabulary, key=len, reverse=True):
        needle = name.lower()
        if needle in text:
            found.add(name)
            text = text.replace(needle, "")
    return found


def binary_scores(predicted, true):
    """Precision, recall and F1 of two label sets, as sklearn computes them with ``zero_division=1``.

    >>> binary_scores({"a"}, {"a", "b"})
    (1.0, 0.5, 0.6666666666666666)
    >>> binary_scores(set(), set())
    (1.0, 1.0, 1.0)
    """
    true_positives = len(predicted & true)
    precision = true_positives / len(predicted) if predicted else 1.0
    recall = true_positives / len(true) if true else 1.0
    denominator = len(predicted) + len(true)
    f1 = 2 * true_positives / denominator if denominator else 1.0
    return precision, recall, f1


def _check_inputs(predictions, references, offset=0):
    """Raise ValueError on mismatched lengths or values of the wrong type."""
    if len(predictions) != len(references):
        raise ValueError(
            f"predictions and references must have the same length, got {len(predictions)} and {len(references)}"
        )
    for index, (prediction, reference) in enumerate(zip(predictions, references)):
        if not isinstance(prediction, str):
            raise ValueError(f"predictions[{index + offset}] must be a string, got {prediction!r}")
        if isinstance(reference, str) or not all(isinstance(name, str) for name in reference):
            raise ValueError(f"references[{index + offset}] must be a list of label names, got {reference!r}")


def _check_references(references, vocabulary):
    """Raise ValueError naming the first reference label that is not in the vocabulary."""
    known = set(vocabulary)
    for index, reference in enumerate(references):
        for name in reference:
            if name not in known:
                raise ValueError(f"references[{index}] names {name!r}, which is not in the vocabulary")


def _require_inputs(given, example):
    """Raise one ``ValueError`` naming the inputs a ``compute`` call lacks, with a complete example call.

    ``given`` maps every required input to its value; a call that gives none of them scores what ``add`` /
    ``add_batch`` buffered, so it passes.
    """
    missing = [name for name, value in given.items() if value is None]
    if missing and len(missing) < len(given):
        raise ValueError(f"{_NAME}: missing {' and '.join(missing)}; compute needs {', '.join(given)}, e.g. {example}")


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Multilabel(evaluate.Metric):
    """Per-example multi-label precision, recall and F1 over a vocabulary found in free text."""

    def _info(self):
        """Describe the metric and its input features (the vocabulary is a compute() keyword)."""
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Value("string"),
                    "references": datasets.Sequence(datasets.Value("string")),
                }
            ),
            reference_urls=["https://arxiv.org/abs/2411.19930"],
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
        """Compute the scores; the vocabulary is checked before anything is buffered."""
        _require_inputs({"predictions": predictions, "references": references}, _EXAMPLE_CALL)
        try:
            vocabulary = _check_vocabulary(kwargs.get("vocabulary"))
            if predictions is not None and references is not None:
                _check_inputs(predictions, references)
                _check_references(references, vocabulary)
            return super().compute(predictions=predictions, references=references, **kwargs)
        finally:
            self._rows_added = 0

    def _compute(self, predictions, references, vocabulary=None):
        """Score every example and average."""
        vocabulary = _check_vocabulary(vocabulary)
        _check_references(references, vocabulary)
        totals = [0.0, 0.0, 0.0]
        for prediction, reference in zip(predictions, references):
            scores = binary_scores(find_labels(prediction, vocabulary), set(reference))
            for position, score in enumerate(scores):
                totals[position] += score
        count = len(predictions)
        precision, recall, f1 = (total / count if count else 0.0 for total in totals)
        return {"f1": f1, "recall": recall, "precision": precision}
