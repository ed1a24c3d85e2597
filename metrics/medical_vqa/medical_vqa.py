# Copyright 2025 adamllm-hub contributors. Licensed under the Apache License, Version 2.0.
"""Medical VQA metric: open-question token recall and closed-question (yes/no) accuracy.

The protocol is the LLaVA-Med evaluation (VQA-style answer normalisation, open-question recall,
lenient closed-question hits) as used by AdaMLLM for SLAKE, VQA-RAD and PathVQA.
"""

import re

import datasets
import evaluate

_NAME = "medical_vqa"
_EXAMPLE_CALL = 'metric.compute(predictions=["yes"], references=["yes"], answer_types=["CLOSED"])'
"""A complete call, quoted by the error of a call that lacks an input."""

_CITATION = """\
@article{cheng2024adamllm,
  title={On Domain-Specific Post-Training for Multimodal Large Language Models},
  author={Cheng, Daixuan and Huang, Shaohan and Zhu, Ziyu and Zhang, Xintong and Zhao, Wayne Xin and Luan, Zhongzhi
          and Dai, Bo and Zhang, Zhenliang},
  journal={arXiv preprint arXiv:2411.19930},
  year={2024}
}
@inproceedings{li2023llavamed,
  title={{LLaVA-Med}: Training a Large Language-and-Vision Assistant for Biomedicine in One Day},
  author={Li, Chunyuan and Wong, Cliff and Zhang, Sheng and Usuyama, Naoto and Liu, Haotian and Yang, Jianwei
          and Naumann, Tristan and Poon, Hoifung and Gao, Jianfeng},
  booktitle={Advances in Neural Information Processing Systems},
  year={2023}
}
@inproceedings{antol2015vqa,
  title={{VQA}: Visual Question Answering},
  author={Antol, Stanislaw and Agrawal, Aishwarya and Lu, Jiasen and Mitchell, Margaret and Batra, Dhruv
          and Zitnick, C. Lawrence and Parikh, Devi},
  booktitle={International Conference on Computer Vision (ICCV)},
  year={2015}
}
"""

_DESCRIPTION = """\
Medical visual question answering metric used for SLAKE, VQA-RAD and PathVQA in AdaMLLM
(arXiv 2411.19930), following the LLaVA-Med evaluation protocol.

Every prediction and reference is normalised VQA-style: lower-cased; punctuation removed or turned
into spaces; periods dropped unless followed by a digit; number words "none"/"zero".."ten" mapped to
digits; the articles "a", "an", "the" removed; VQA contractions restored ("dont" -> "don't").

* OPEN questions score the token recall of the reference: the share of reference tokens that also
  occur among the prediction tokens. `open_recall` is the mean over OPEN questions.
* CLOSED questions score 1 when the prediction contains "yes" or "no" and the normalised reference
  occurs (as a substring) in the normalised prediction, else 0. `closed_accuracy` is the mean over
  CLOSED questions.

Both rules are lenient on purpose (a long answer that mentions the reference scores well); they
reproduce the published protocol, they are not an exact-match accuracy. A subset with no questions
scores 0.0 and reports a count of 0.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): model answers.
    references (`list` of `str`): gold answers.
    answer_types (`list` of `str`): "OPEN" or "CLOSED" for each question (any letter case).
    mode (`str`, optional): "llava_med" (default: the published protocol) or "token" (stricter).
        "token": a CLOSED prediction needs "yes" or "no" as a whole token, and OPEN recall is
        |reference tokens found among the prediction tokens| / |reference tokens|.
        "llava_med": the released LLaVA-Med / AdaMLLM evaluation, quirks included: "yes"/"no"
        may occur anywhere as a substring ("not" contains "no"), OPEN recall counts each shared word as
        often as it occurs in the prediction (tp / (tp + fn)), and at most 32 periods per pass are
        stripped.
Returns:
    open_recall (`float`): mean token recall over OPEN questions, in [0, 1] (0.0 when there are none).
    closed_accuracy (`float`): mean hit over CLOSED questions, in [0, 1] (0.0 when there are none).
    num_open (`int`): number of OPEN questions.
    num_closed (`int`): number of CLOSED questions.
Raises:
    ValueError: when the input lists differ in length, or an answer type is neither OPEN nor CLOSED.
Examples:
    >>> metric = evaluate.load("medical_vqa")
    >>> results = metric.compute(
    ...     predictions=["There are two lesions in the left lung.", "Yes, the liver is abnormal.", "It is normal."],
    ...     references=["2 lesions", "yes", "no"],
    ...     answer_types=["OPEN", "CLOSED", "CLOSED"],
    ... )
    >>> print(results)
    {'open_recall': 1.0, 'closed_accuracy': 1.0, 'num_open': 1, 'num_closed': 2}

    Recall counts the reference tokens found in the prediction:

    >>> results = metric.compute(predictions=["the right lobe"], references=["left lobe"], answer_types=["open"])
    >>> print(results["open_recall"], results["num_closed"])
    0.5 0
"""

_MODES = ("token", "llava_med")
_ANSWER_TYPES = ("OPEN", "CLOSED")

# Number words the VQA evaluation maps to digits.
_NUMBER_WORDS = {
    "none": "0",
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}
_ARTICLES = frozenset({"a", "an", "the"})
# Punctuation the VQA evaluation removes (when next to a space, or anywhere when the text holds a
# digit-comma-digit group) or else turns into a space. Colons and apostrophes are kept, as there.
_PUNCTUATION = ';/[]"{}()=+\\_-><@`,?!'
_DIGIT_COMMA_DIGIT = re.compile(r"\d,\d")
_PERIOD_NOT_BEFORE_DIGIT = re.compile(r"\.(?!\d)")
_LEGACY_PERIOD_LIMIT = 32

# The VQA contraction table, written as the canonical spellings: every spelling that drops exactly one
# of the apostrophes maps back to the canonical one ("dont" -> "don't", "hed've" -> "he'd've"). This equals
# the VQA table on lower-case text, except for its one reversed entry ("somebody'd" -> "somebodyd").
_CANONICAL_CONTRACTIONS = [
    word
    for line in (
        "ain't aren't can't could've couldn't couldn't've didn't doesn't don't hadn't hadn't've hasn't haven't",
        "he'd he'd've he's how'd how'll how's isn't it'd it'd've it'll ma'am mightn't mightn't've might've",
        "mustn't must've needn't not've o'clock oughtn't 'ow's'at shan't she'd've shouldn't shouldn't've",
        "should've somebody'd've somebody'll somebody's someone'd someone'd've someone'll someone's something'd",
        "something'd've something'll that's there'd there'd've there're there's they'd they'd've they'll",
        "they're they've 'twas wasn't we'd've we've weren't what'll what're what's what've when's where'd",
        "where's where've who'd who'd've who'll who's who've why'll why're why's won't would've wouldn't",
        "wouldn't've y'all y'all'll y'all'd've you'd you'd've you'll you're you've",
    )
    for word in line.split()
]


def _build_contractions(canonical_forms):
    """Map each spelling with one apostrophe dropped to its canonical contraction."""
    table = {}
    for canonical in canonical_forms:
        for position, char in enumerate(canonical):
            if char == "'":
                table[canonical[:position] + canonical[position + 1 :]] = canonical
    return table


_CONTRACTIONS = _build_contractions(_CANONICAL_CONTRACTIONS)


def normalize_answer(text, legacy_period_limit=False):
    """Normalise an answer the VQA / LLaVA-Med way and return the normalised string.

    Lower-cases, handles punctuation, drops periods that are not followed by a digit, maps number
    words to digits, removes articles and restores contractions. With ``legacy_period_limit`` only the
    first 32 periods are dropped, as the released script does.

    >>> normalize_answer("The TWO nodules, left-sided.")
    '2 nodules left sided'
    >>> normalize_answer("It's 1,000.5 mm; dont know")
    "it's 1000.5 mm don't know"
    """
    text = text.lower()
    strip_all = _DIGIT_COMMA_DIGIT.search(text) is not None
    out = text
    for mark in _PUNCTUATION:
        if strip_all or (mark + " ") in text or (" " + mark) in text:
            out = out.replace(mark, "")
        else:
            out = out.replace(mark, " ")
    out = _PERIOD_NOT_BEFORE_DIGIT.sub("", out, count=_LEGACY_PERIOD_LIMIT if legacy_period_limit else 0)
    words = []
    for word in out.split():
        word = _NUMBER_WORDS.get(word, word)
        if word not in _ARTICLES:
            words.append(_CONTRACTIONS.get(word, word))
    return " ".join(words).replace(",", "")


def open_recall(prediction, reference, mode="llava_med"):
    """Token recall of ``reference`` in ``prediction`` after normalisation, in [0, 1].

    An empty (normalised) prediction or reference scores 0.

    >>> open_recall("A mass in the left kidney", "left kidney mass")
    1.0
    >>> open_recall("right kidney", "left kidney")
    0.5
    """
    legacy = mode == "llava_med"
    # The released script normalises twice (once before scoring and once inside the recall helper).
    pred_tokens = normalize_answer(normalize_answer(prediction, legacy), legacy).split()
    ref_tokens = normalize_answer(normalize_answer(reference, legacy), legacy).split()
    if not pred_tokens or not ref_tokens:
        return 0.0
    pred_set = set(pred_tokens)
    if not legacy:
        return sum(token in pred_set for token in ref_tokens) / len(ref_tokens)
    ref_set = set(ref_tokens)
    true_positives = sum(1 for token in pred_tokens if token in ref_set)
    false_negatives = sum(1 for token in ref_tokens if token not in pred_set)
    if true_positives == 0:
        return 0.0
    return true_positives / (true_positives + false_negatives)


def closed_hit(prediction, reference, mode="llava_med"):
    """Return 1 when a closed (yes/no) prediction counts as correct, else 0.

    The normalised prediction must contain "yes" or "no" (a whole token in "token" mode, any substring
    in "llava_med" mode) and the normalised reference must occur in it.

    >>> closed_hit("Yes, it is.", "yes")
    1
    >>> closed_hit("Normal.", "normal")
    1
    >>> closed_hit("Normal.", "normal", mode="token")
    0
    """
    legacy = mode == "llava_med"
    pred = normalize_answer(prediction, legacy)
    ref = normalize_answer(reference, legacy)
    if legacy:
        has_yes_no = "yes" in pred or "no" in pred
    else:
        tokens = pred.split()
        has_yes_no = "yes" in tokens or "no" in tokens
    return int(has_yes_no and ref in pred)


def _check_inputs(predictions, references, answer_types, offset=0):
    """Raise ValueError on mismatched lengths, non-string values or unknown answer types."""
    if len(predictions) != len(references) or len(predictions) != len(answer_types):
        raise ValueError(
            "predictions, references and answer_types must have the same length, got "
            f"{len(predictions)}, {len(references)} and {len(answer_types)}"
        )
    for index, (prediction, reference, answer_type) in enumerate(zip(predictions, references, answer_types)):
        if not isinstance(prediction, str):
            raise ValueError(f"predictions[{index + offset}] must be a string, got {prediction!r}")
        if not isinstance(reference, str):
            raise ValueError(f"references[{index + offset}] must be a string, got {reference!r}")
        if not isinstance(answer_type, str) or answer_type.upper() not in _ANSWER_TYPES:
            raise ValueError(
                f"answer_types[{index + offset}] must be 'OPEN' or 'CLOSED' (any case), got {answer_type!r}"
            )


def _require_inputs(given, example):
    """Raise one ``ValueError`` naming the inputs a ``compute`` call lacks, with a complete example call.

    ``given`` maps every required input to its value; a call that gives none of them scores what ``add`` /
    ``add_batch`` buffered, so it passes.
    """
    missing = [name for name, value in given.items() if value is None]
    if missing and len(missing) < len(given):
        raise ValueError(f"{_NAME}: missing {' and '.join(missing)}; compute needs {', '.join(given)}, e.g. {example}")


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class MedicalVQA(evaluate.Metric):
    """Open-question recall and closed-question accuracy for medical VQA (LLaVA-Med protocol)."""

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
                    "answer_types": datasets.Value("string"),
                }
            ),
            reference_urls=[
                "https://arxiv.org/abs/2411.19930",
                "https://github.com/microsoft/LLaVA-Med",
                "https://visualqa.org/evaluation.html",
            ],
        )

    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Validate a batch, then add it to the metric's buffer."""
        answer_types = kwargs.get("answer_types")
        if predictions is not None and references is not None and answer_types is not None:
            _check_inputs(predictions, references, answer_types, offset=getattr(self, "_rows_added", 0))
        super().add_batch(predictions=predictions, references=references, **kwargs)
        self._rows_added = getattr(self, "_rows_added", 0) + len(predictions or [])

    def add(self, *, prediction=None, reference=None, **kwargs):
        """Validate one example, then add it to the metric's buffer."""
        answer_type = kwargs.get("answer_types")
        if prediction is not None and reference is not None and answer_type is not None:
            _check_inputs([prediction], [reference], [answer_type], offset=getattr(self, "_rows_added", 0))
        super().add(prediction=prediction, reference=reference, **kwargs)
        self._rows_added = getattr(self, "_rows_added", 0) + 1

    def compute(self, *, predictions=None, references=None, **kwargs):
        """Compute the scores; see the module description for the arguments."""
        _require_inputs(
            {"predictions": predictions, "references": references, "answer_types": kwargs.get("answer_types")},
            _EXAMPLE_CALL,
        )
        mode = kwargs.get("mode", "llava_med")
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        try:
            return super().compute(predictions=predictions, references=references, **kwargs)
        finally:
            self._rows_added = 0

    def _compute(self, predictions, references, answer_types, mode="llava_med"):
        """Score every question and average per answer type."""
        _check_inputs(predictions, references, answer_types)
        recalls = []
        hits = []
        for prediction, reference, answer_type in zip(predictions, references, answer_types):
            if answer_type.upper() == "OPEN":
                recalls.append(open_recall(prediction, reference, mode))
            else:
                hits.append(closed_hit(prediction, reference, mode))
        return {
            "open_recall": sum(recalls) / len(recalls) if recalls else 0.0,
            "closed_accuracy": sum(hits) / len(hits) if hits else 0.0,
            "num_open": len(recalls),
            "num_closed": len(hits),
        }
