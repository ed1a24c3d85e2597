# Copyright 2025 adamllm-hub contributors. Licensed under the Apache License, Version 2.0.
"""Multiple-choice accuracy with MMMU-style answer parsing (PMC-VQA, Food101 in AdaMLLM)."""

import json
import random
from collections.abc import Mapping

import datasets
import evaluate

_NAME = "multiple_choice"
_EXAMPLE_CALL = 'metric.compute(predictions=["(B)"], references=["B"], options=[{"A": "Lung", "B": "Liver"}])'
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
Multiple-choice accuracy as used by AdaMLLM (arXiv 2411.19930) for PMC-VQA (options A-D) and Food101
(101 class names), with the answer parser of the MMMU benchmark.

The free-text prediction is mapped to one option key:
1. surrounding punctuation (, . ! ? ; : ') is stripped and the text is padded with one space each side;
2. keys written as "(X)" (or "X. ", as later MMMU versions accept) are candidates;
3. failing that, keys standing alone between spaces (" X ") are candidates;
4. failing that, when the padded text is longer than 5 characters, every option whose text occurs in
   the prediction (case-insensitive) is a candidate;
5. among several candidates the one whose match starts last in the text wins (ties: the first key);
6. with no candidate at all the key is drawn by `random.Random(i).choice(keys)`, where `i` is the
   example index and `keys` the option keys in their given order; such draws are counted.
Accuracy is the share of examples whose parsed key equals the reference key.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): model answers (free text).
    references (`list` of `str`): the correct option key of each example (e.g. "B").
    options (`list` of `dict`): for each example, a mapping option key -> option text, in display order.
        Keys are compared as strings. JSON strings of such mappings are accepted too.
    letter_dot (`bool`, optional, default False): also accept "X. " in step 2. The default (False) reproduces
        the parser released with AdaMLLM exactly (the published protocol), which only looks for "(X)" and " X ".
Returns:
    accuracy (`float`): share of correct examples, in [0, 1] (0.0 for no examples).
    num_random_fallback (`int`): how many predictions could not be parsed and got a seeded random key.
Raises:
    ValueError: when the input lists differ in length, an options entry is not a non-empty mapping of
        text, or a reference key is not one of its example's option keys.
Examples:
    >>> metric = evaluate.load("multiple_choice")
    >>> options = [
    ...     {"A": "Lung", "B": "Liver", "C": "Kidney", "D": "Heart"},
    ...     {"A": "CT", "B": "MRI", "C": "X-ray", "D": "Ultrasound"},
    ...     {"A": "Benign", "B": "Malignant", "C": "Normal", "D": "Unknown"},
    ... ]
    >>> results = metric.compute(
    ...     predictions=["The answer is (B).", "This image was taken with an MRI scanner", "C"],
    ...     references=["B", "B", "A"],
    ...     options=options,
    ... )
    >>> print(results)
    {'accuracy': 0.6666666666666666, 'num_random_fallback': 0}
"""


def _as_options(value, index):
    """Return ``value`` (a mapping or its JSON text) as a dict of str key -> str text, or raise ValueError."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError(f"options[{index}] is a string but not a JSON object: {value!r}") from None
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"options[{index}] must be a non-empty mapping of option key -> text, got {value!r}")
    options = {}
    for key, text in value.items():
        if not isinstance(text, str):
            raise ValueError(f"options[{index}][{key!r}] must be a string, got {text!r}")
        if str(key) in options:
            raise ValueError(f"options[{index}] has the key {str(key)!r} twice")
        options[str(key)] = text
    return options


def parse_choice(response, options, index, letter_dot=False):
    """Map a free-text ``response`` to one key of ``options``; return ``(key, used_random_fallback)``.

    ``index`` seeds the fallback draw ``random.Random(index).choice(list(options))``.

    >>> opts = {"A": "apple pie", "B": "beef tartare"}
    >>> parse_choice("(B)", opts, 0)
    ('B', False)
    >>> parse_choice("I think it is apple pie.", opts, 0)
    ('A', False)
    >>> parse_choice("A or maybe B", opts, 0)
    ('B', False)
    """
    keys = list(options)
    text = response
    for char in (",", ".", "!", "?", ";", ":", "'"):
        text = text.strip(char)
    text = f" {text} "

    positions = {}
    for key in keys:
        found = text.rfind(f"({key})")
        if letter_dot:
            found = max(found, text.rfind(f" {key}. "))
        if found >= 0:
            positions[key] = found
    if not positions:
        for key in keys:
            found = text.rfind(f" {key} ")
            if found >= 0:
                positions[key] = found
    if not positions and len(text) > 5:
        lowered = text.lower()
        for key in keys:
            option_text = options[key].lower()
            if option_text and option_text in lowered:
                positions[key] = lowered.rfind(option_text)
    if not positions:
        return random.Random(index).choice(keys), True
    # max() keeps the first key among equal positions, like numpy's argmax in the reference parser.
    return max(positions, key=positions.__getitem__), False


def _check_inputs(predictions, references, options, offset=0):
    """Validate one batch; return the references as strings and the options as dicts."""
    if len(predictions) != len(references) or len(predictions) != len(options):
        raise ValueError(
            "predictions, references and options must have the same length, got "
            f"{len(predictions)}, {len(references)} and {len(options)}"
        )
    checked_refs = []
    checked_options = []
    for index, (prediction, reference, example_options) in enumerate(zip(predictions, references, options)):
        position = index + offset
        if not isinstance(prediction, str):
            raise ValueError(f"predictions[{position}] must be a string, got {prediction!r}")
        if reference is None:
            raise ValueError(f"references[{position}] is None")
        parsed = _as_options(example_options, position)
        if str(reference) not in parsed:
            raise ValueError(
                f"references[{position}] = {reference!r} is not one of the option keys {list(parsed)} of that example"
            )
        checked_refs.append(str(reference))
        checked_options.append(parsed)
    return checked_refs, checked_options


def _require_inputs(given, example):
    """Raise one ``ValueError`` naming the inputs a ``compute`` call lacks, with a complete example call.

    ``given`` maps every required input to its value; a call that gives none of them scores what ``add`` /
    ``add_batch`` buffered, so it passes.
    """
    missing = [name for name, value in given.items() if value is None]
    if missing and len(missing) < len(given):
        raise ValueError(f"{_NAME}: missing {' and '.join(missing)}; compute needs {', '.join(given)}, e.g. {example}")


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class MultipleChoice(evaluate.Metric):
    """Accuracy of free-text multiple-choice answers, parsed the MMMU way."""

    def _info(self):
        """Describe the metric; options travel as JSON text, one object per example."""
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Value("string"),
                    "references": datasets.Value("string"),
                    "options": datasets.Value("string"),
                }
            ),
            reference_urls=[
                "https://arxiv.org/abs/2411.19930",
                "https://github.com/MMMU-Benchmark/MMMU",
            ],
        )

    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Validate a batch, encode its options as JSON, then add it to the metric's buffer."""
        options = kwargs.pop("options", None)
        if predictions is not None and references is not None and options is not None:
            references, parsed = _check_inputs(
                predictions, references, options, offset=getattr(self, "_rows_added", 0)
            )
            options = [json.dumps(item) for item in parsed]
        super().add_batch(predictions=predictions, references=references, options=options, **kwargs)
        self._rows_added = getattr(self, "_rows_added", 0) + len(predictions or [])

    def add(self, *, prediction=None, reference=None, **kwargs):
        """Validate one example, encode its options as JSON, then add it to the metric's buffer."""
        options = kwargs.pop("options", None)
        if prediction is not None and reference is not None and options is not None:
            references, parsed = _check_inputs(
                [prediction], [reference], [options], offset=getattr(self, "_rows_added", 0)
            )
            reference = references[0]
            options = json.dumps(parsed[0])
        super().add(prediction=prediction, reference=reference, options=options, **kwargs)
        self._rows_added = getattr(self, "_rows_added", 0) + 1

    def compute(self, *, predictions=None, references=None, **kwargs):
        """Compute the scores; see the module description for the arguments."""
        _require_inputs(
            {"predictions": predictions, "references": references, "options": kwargs.get("options")}, _EXAMPLE_CALL
        )
        try:
            return super().compute(predictions=predictions, references=references, **kwargs)
        finally:
            self._rows_added = 0

    def _compute(self, predictions, references, options, letter_dot=False):
        """Parse every prediction and compare it with its reference key."""
        references, parsed_options = _check_inputs(predictions, references, options)
        correct = 0
        fallbacks = 0
        for index, (prediction, reference, example_options) in enumerate(zip(predictions, references, parsed_options)):
            key, used_fallback = parse_choice(prediction, example_options, index, letter_dot=bool(letter_dot))
            correct += int(key == reference)
            fallbacks += int(used_fallback)
        return {
            "accuracy": correct / len(predictions) if predictions else 0.0,
            "num_random_fallback": fallbacks,
        }
