"""Tests for the `evaluate` metric modules under metrics/: contracts, protocol rules, doctests, cards, apps."""

from __future__ import annotations

import ast
import doctest
import importlib.util
import inspect
import itertools
import json
import random
import re
import types
from pathlib import Path
from unittest import mock

import evaluate
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge import Rouge

REPO = Path(__file__).resolve().parents[1]
METRICS_DIR = REPO / "metrics"
METRIC_NAMES = ("medical_vqa", "multiple_choice", "multilabel", "rouge_l")

# One valid call per metric, and the keys its result must have (count keys are ints, the rest scores).
SAMPLE_INPUTS = {
    "medical_vqa": {
        "predictions": ["Two nodules in the left lung.", "Yes.", "no"],
        "references": ["2 nodules", "yes", "yes"],
        "answer_types": ["OPEN", "CLOSED", "closed"],
    },
    "multiple_choice": {
        "predictions": ["(B)", "I pick C", "???"],
        "references": ["B", "A", "D"],
        "options": [{"A": "a1", "B": "b1", "C": "c1", "D": "d1"}] * 3,
    },
    "multilabel": {
        "predictions": ["rice and eggs", "nothing"],
        "references": [["rice"], ["egg", "bread"]],
        "vocabulary": ["rice", "egg", "bread"],
    },
    "rouge_l": {
        "predictions": ["mix the flour. bake it.", ""],
        "references": ["mix flour. bake.", "serve"],
    },
}
SCORE_KEYS = {
    "medical_vqa": {"open_recall", "closed_accuracy"},
    "multiple_choice": {"accuracy"},
    "multilabel": {"f1", "recall", "precision"},
    "rouge_l": {"rouge_l"},
}
COUNT_KEYS = {
    "medical_vqa": {"num_open", "num_closed"},
    "multiple_choice": {"num_random_fallback"},
    "multilabel": set(),
    "rouge_l": set(),
}


def _import_file(path: Path, module_name: str) -> types.ModuleType:
    """Import a Python file as a fresh module (how evaluate's own suite imports metric scripts)."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def modules() -> dict[str, types.ModuleType]:
    """The four metric scripts imported as plain modules (for their helper functions and doctests)."""
    return {
        name: _import_file(METRICS_DIR / name / f"{name}.py", f"_metric_under_test_{name}") for name in METRIC_NAMES
    }


@pytest.fixture(scope="module")
def metrics() -> dict[str, evaluate.EvaluationModule]:
    """The four metrics loaded through evaluate from their local folders, kept in memory for speed."""
    return {name: evaluate.load(str(METRICS_DIR / name), keep_in_memory=True) for name in METRIC_NAMES}


def _local_load(name, *args, **kwargs):
    """Stand-in for ``evaluate.load`` that resolves a bare metric name or ``metrics/<name>`` to this repo."""
    path = REPO / name if (REPO / name).exists() else METRICS_DIR / name
    return evaluate.loading.load(str(path), *args, **kwargs)


def _assert_scores_in_range(name: str, result: dict) -> None:
    """Check the contract keys, score ranges and count types of one result."""
    assert set(result) == SCORE_KEYS[name] | COUNT_KEYS[name]
    for key in SCORE_KEYS[name]:
        assert isinstance(result[key], float), (key, result[key])
        assert 0.0 <= result[key] <= 1.0, (key, result[key])
    for key in COUNT_KEYS[name]:
        assert isinstance(result[key], int) and result[key] >= 0, (key, result[key])


# --------------------------------------------------------------------------------------------------------------
# (1) Loading offline and the result contract
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_loads_offline_and_returns_contract_keys(name):
    """Every metric loads from its folder with evaluate.load and returns the contract keys, scores in [0, 1]."""
    metric = evaluate.load(str(METRICS_DIR / name))
    result = metric.compute(**SAMPLE_INPUTS[name])
    _assert_scores_in_range(name, result)


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_add_batch_then_compute_matches_compute(name, metrics):
    """Feeding the same data through add_batch in two halves gives the same result as one compute call."""
    metric = metrics[name]
    sample = SAMPLE_INPUTS[name]
    expected = metric.compute(**sample)
    columns = [key for key in sample if key != "vocabulary"]
    for part in (slice(0, 1), slice(1, None)):
        batch = {key: sample[key][part] for key in columns}
        metric.add_batch(**batch)
    extra = {"vocabulary": sample["vocabulary"]} if "vocabulary" in sample else {}
    assert metric.compute(**extra) == expected


def test_expected_sample_values(metrics):
    """The sample inputs give the hand-computed results."""
    assert metrics["medical_vqa"].compute(**SAMPLE_INPUTS["medical_vqa"]) == {
        "open_recall": 1.0,
        "closed_accuracy": 0.5,
        "num_open": 1,
        "num_closed": 2,
    }
    fallback = random.Random(2).choice(["A", "B", "C", "D"])
    mc = metrics["multiple_choice"].compute(**SAMPLE_INPUTS["multiple_choice"])
    assert mc == {"accuracy": (1 + (fallback == "D")) / 3, "num_random_fallback": 1}
    # "rice and eggs": rice and egg found; ref {rice} -> P 0.5, R 1, F 2/3. "nothing": P 1, R 0, F 0.
    ml = metrics["multilabel"].compute(**SAMPLE_INPUTS["multilabel"])
    assert ml == pytest.approx({"f1": (2 / 3) / 2, "recall": 0.5, "precision": 0.75})


# --------------------------------------------------------------------------------------------------------------
# (2) Doctests, cards, requirements and Space apps
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_module_doctests(name, modules):
    """The examples in _KWARGS_DESCRIPTION and the helper docstrings run, as in evaluate's own test suite."""
    module = modules[name]
    with mock.patch("evaluate.load", side_effect=_local_load):
        results = doctest.testmod(module, verbose=False, optionflags=doctest.ELLIPSIS)
    assert results.failed == 0
    assert results.attempted > 1
    metric_classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, evaluate.Metric) and value.__module__ == module.__name__
    ]
    assert len(metric_classes) == 1
    metric_class = metric_classes[0]
    assert "Examples:" in metric_class.__doc__ and ">>>" in metric_class.__doc__
    parameters = inspect.signature(metric_class._compute).parameters.values()
    assert all(p.kind is not p.VAR_KEYWORD for p in parameters)


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_card_examples_run(name):
    """The >>> examples in each README.md card run and print what the card says."""
    globs = {"evaluate": types.SimpleNamespace(load=_local_load)}
    results = doctest.testfile(str(METRICS_DIR / name / "README.md"), module_relative=False, globs=globs)
    assert results.failed == 0
    assert results.attempted >= 2


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_card_header_and_sections(name):
    """The card's YAML header works as a Space card and the body has the metric-card sections."""
    text = (METRICS_DIR / name / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    header = yaml.safe_load(text.split("---\n")[1])
    for key in ("title", "emoji", "colorFrom", "colorTo", "description"):
        assert header.get(key), key
    assert header["sdk"] == "gradio"
    assert str(header["sdk_version"]) == "6.31.0"
    assert header["app_file"] == "app.py"
    assert header["pinned"] is False
    assert {"evaluate", "metric"} <= set(header["tags"])
    for section in (
        "Metric Description",
        "How to Use",
        "Inputs",
        "Output Values",
        "Examples",
        "Limitations and Bias",
        "Citation",
    ):
        assert re.search(rf"^#+ {section}$", text, flags=re.MULTILINE), section
    assert "2411.19930" in text


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_script_conventions(name, modules):
    """Module constants exist, cite AdaMLLM, one import per line, and no gradio import in the metric."""
    module = modules[name]
    for constant in ("_DESCRIPTION", "_KWARGS_DESCRIPTION", "_CITATION"):
        assert isinstance(getattr(module, constant), str)
    assert "2411.19930" in module._CITATION
    script = METRICS_DIR / name / f"{name}.py"
    source = script.read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            assert len(node.names) == 1, f"one import per line for evaluate's import scanner (line {node.lineno})"
    # What evaluate's loader scans for must all be importable libraries (a docstring line starting with
    # "from"/"import" or "import a, b" would show up here as a bogus library).
    for import_type, import_name, _, _ in evaluate.loading.get_imports(str(script)):
        assert import_type == "library", import_name
        assert importlib.util.find_spec(import_name) is not None, import_name
    for line in source.splitlines():
        assert not re.match(r"^(import|from)\s.*,", line), f"one import per line: {line!r}"
    assert "gradio" not in source
    requirements = (METRICS_DIR / name / "requirements.txt").read_text().split()
    assert any(req.startswith("evaluate") for req in requirements)
    if name == "rouge_l":
        assert any(req.startswith("rouge==") for req in requirements)


def test_space_apps_score_their_examples(modules):
    """Each Space app builds its gr.Interface and its score() equals the metric on the app's example."""
    for name in METRIC_NAMES:
        app = _import_file(METRICS_DIR / name / "app.py", f"_metric_app_{name}")
        assert type(app.demo).__name__ == "Interface"
        result = app.score(*app.EXAMPLE)
        _assert_scores_in_range(name, result)
    medical_app = _import_file(METRICS_DIR / "medical_vqa" / "app.py", "_metric_app_medical_vqa_again")
    predictions, references, answer_types, _ = medical_app.EXAMPLE
    assert medical_app.score(predictions, references, answer_types, "token")["closed_accuracy"] == 0.5
    assert medical_app.score(*medical_app.EXAMPLE)["closed_accuracy"] == 1.0  # lenient: "normal" contains "no"


def test_medical_vqa_widget_starts_in_the_metrics_default_mode(modules):
    """The Space widget's mode (radio default and example) is the metric's own default, the published protocol."""
    import gradio as gr

    default = inspect.signature(modules["medical_vqa"].MedicalVQA._compute).parameters["mode"].default
    assert default == "llava_med"
    app = _import_file(METRICS_DIR / "medical_vqa" / "app.py", "_metric_app_medical_vqa_mode")
    (radio,) = [c for c in app.demo.input_components if isinstance(c, gr.Radio)]
    assert radio.value == default == app.EXAMPLE[-1]
    assert app.METRIC.compute(predictions=["It is normal."], references=["no"], answer_types=["CLOSED"]) == app.score(
        "It is normal.", "no", "CLOSED", radio.value
    )


# --------------------------------------------------------------------------------------------------------------
# (3) medical_vqa rules
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Two", "2"),  # number words -> digits
        ("none of the ten", "0 of 10"),
        ("A mass and an edema, the end", "mass and edema end"),  # articles removed
        ("left-sided (mild)", "left sided mild"),  # punctuation not next to a space -> space
        ("yes, it is; fine!", "yes it is fine"),  # punctuation next to a space -> removed
        ("1,000 cells", "1000 cells"),  # digit-comma-digit: commas removed
        ("3.5 cm.", "3.5 cm"),  # periods kept before a digit, removed otherwise
        ("dont know", "don't know"),  # contraction table
        ("Answer: YES", "answer: yes"),  # colons are not VQA punctuation
        ("", ""),
    ],
)
def test_medical_vqa_normalisation(modules, raw, expected):
    """VQA-style normalisation: case, punctuation, digits, articles, contractions."""
    assert modules["medical_vqa"].normalize_answer(raw) == expected


def test_medical_vqa_open_recall(metrics):
    """OPEN: share of reference tokens present in the prediction tokens, after normalisation."""
    metric = metrics["medical_vqa"]

    def recall(prediction, reference, **kwargs):
        return metric.compute(predictions=[prediction], references=[reference], answer_types=["OPEN"], **kwargs)

    assert recall("There are two nodules.", "2 nodules")["open_recall"] == 1.0
    assert recall("the right lobe", "left lobe")["open_recall"] == 0.5
    assert recall("Liver", "left lobe of liver")["open_recall"] == pytest.approx(1 / 4)
    assert recall("", "liver")["open_recall"] == 0.0
    assert recall("liver", "the")["open_recall"] == 0.0  # reference empty after normalisation
    # Duplicated prediction words: the brief's formula vs the released tp / (tp + fn).
    assert recall("left left", "left lung", mode="token")["open_recall"] == 0.5
    assert recall("left left", "left lung")["open_recall"] == pytest.approx(2 / 3)  # default: the released protocol
    result = recall("nodules", "nodules")
    assert result["num_open"] == 1 and result["num_closed"] == 0 and result["closed_accuracy"] == 0.0


@pytest.mark.parametrize(
    ("prediction", "reference", "token_hit", "llava_med_hit"),
    [
        ("Yes.", "yes", 1, 1),
        ("No, it is not.", "no", 1, 1),
        ("yes", "no", 0, 0),
        ("It is normal.", "normal", 0, 1),  # needs a yes/no token; the released script accepts "no" in "normal"
        ("not really", "no", 0, 1),
        ("Yes, on the left side", "left", 1, 1),  # reference contained in the prediction
        ("Yes, on the right side", "left", 0, 0),
        ("YES!", "Yes", 1, 1),
    ],
)
def test_medical_vqa_closed(metrics, prediction, reference, token_hit, llava_med_hit):
    """CLOSED: a hit needs yes/no in the prediction and the reference contained in it."""
    metric = metrics["medical_vqa"]
    for mode, hit in (("token", token_hit), ("llava_med", llava_med_hit)):
        result = metric.compute(predictions=[prediction], references=[reference], answer_types=["CLOSED"], mode=mode)
        assert result == {"open_recall": 0.0, "closed_accuracy": float(hit), "num_open": 0, "num_closed": 1}


def test_medical_vqa_means_per_subset_and_legacy_period_limit(metrics):
    """Scores are means per answer type; llava_med mode strips at most 32 periods per normalisation pass."""
    metric = metrics["medical_vqa"]
    result = metric.compute(
        predictions=["liver", "kidney", "yes", "yes", "no", "no"],
        references=["liver", "left kidney", "yes", "no", "no", "yes"],
        answer_types=["OPEN", "open", "CLOSED", "Closed", "closed", "CLOSED"],
    )
    assert result == {"open_recall": 0.75, "closed_accuracy": 0.5, "num_open": 2, "num_closed": 4}
    assert metric.compute(predictions=[], references=[], answer_types=[]) == {
        "open_recall": 0.0,
        "closed_accuracy": 0.0,
        "num_open": 0,
        "num_closed": 0,
    }
    many_periods = "lung" + "." * 70  # two passes x 32 leave 6 periods glued to the word
    kwargs = {"predictions": [many_periods], "references": ["lung"], "answer_types": ["OPEN"]}
    assert metric.compute(**kwargs, mode="token")["open_recall"] == 1.0
    assert metric.compute(**kwargs)["open_recall"] == 0.0


# --------------------------------------------------------------------------------------------------------------
# (3) multiple_choice rules
# --------------------------------------------------------------------------------------------------------------

ORGANS = {"A": "Lung", "B": "Liver", "C": "Kidney", "D": "Heart"}


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("(B)", "B"),
        ("The answer is (B).", "B"),
        ("I would say B here", "B"),  # " X " form
        ("B", "B"),
        ("B.", "B"),  # trailing punctuation stripped
        ("'C'", "C"),
        ("The organ shown is the liver", "B"),  # option text, case-insensitive
        ("(A) is wrong, the answer is (C)", "C"),  # last "(X)" wins
        ("A or maybe D", "D"),  # last " X " wins
        ("not the lung but the heart", "D"),  # last option text wins
        ("heart? no wait, lung", "A"),
        ("(D) even though I said B before", "D"),  # "(X)" beats " X "
    ],
)
def test_multiple_choice_parser(modules, response, expected):
    """MMMU-style parsing: brackets, standalone keys, option text; the last match wins."""
    assert modules["multiple_choice"].parse_choice(response, ORGANS, 0) == (expected, False)


def test_multiple_choice_letter_dot_and_length_rules(modules):
    """letter_dot=False is the released parser; option text is only searched in texts longer than 5 padded chars."""
    parse = modules["multiple_choice"].parse_choice
    assert parse("A is wrong, so B. ", ORGANS, 0) == ("A", False)  # default: the released parser
    assert parse("A is wrong, so B. ", ORGANS, 0, letter_dot=True) == ("B", False)
    classes = {"0": "pie", "1": "ribs"}
    assert parse("pies", classes, 0) == ("0", False)  # " pies " has 6 characters
    assert parse("pie", classes, 7) == (random.Random(7).choice(["0", "1"]), True)  # " pie " has only 5
    # Equal start positions: the first key in option order wins.
    assert parse("a black cat here", {"A": "black", "B": "black cat"}, 0) == ("A", False)
    assert parse("a black cat here", {"B": "black cat", "A": "black"}, 0) == ("B", False)


def test_multiple_choice_seeded_fallback(metrics):
    """Unparseable answers get random.Random(i).choice(keys), i = example index, keys in option order."""
    keys = ["D", "A", "C", "B"]
    options = [dict.fromkeys(keys, "zzz")] * 8
    drawn = [random.Random(index).choice(keys) for index in range(8)]
    references = [key if index % 2 == 0 else next(k for k in keys if k != key) for index, key in enumerate(drawn)]
    result = metrics["multiple_choice"].compute(predictions=["???"] * 8, references=references, options=options)
    assert result == {"accuracy": 0.5, "num_random_fallback": 8}


def test_multiple_choice_fallback_index_spans_batches(metrics):
    """The fallback seed is the index over everything added, also across add_batch calls."""
    metric = metrics["multiple_choice"]
    keys = [str(i) for i in range(101)]
    options = {key: f"class {key}" for key in keys}
    metric.add_batch(predictions=["(3)", "?"], references=["3", random.Random(1).choice(keys)], options=[options] * 2)
    metric.add_batch(predictions=["?", "?"], references=[random.Random(2).choice(keys), "0"], options=[options] * 2)
    expected_last_hit = random.Random(3).choice(keys) == "0"
    assert metric.compute() == {"accuracy": (3 + expected_last_hit) / 4, "num_random_fallback": 3}


def test_multiple_choice_key_types(metrics):
    """Integer keys and references, and JSON-encoded options, are accepted and compared as strings."""
    metric = metrics["multiple_choice"]
    assert metric.compute(predictions=["(1)"], references=[1], options=[{0: "cat", 1: "dog"}])["accuracy"] == 1.0
    as_json = json.dumps({"A": "cat", "B": "dog"})
    assert metric.compute(predictions=["a dog!"], references=["B"], options=[as_json])["accuracy"] == 1.0


# --------------------------------------------------------------------------------------------------------------
# (3) multilabel rules
# --------------------------------------------------------------------------------------------------------------


def test_multilabel_longest_first_removal(modules):
    """Longer names are matched first and removed, so their parts are not matched again."""
    find = modules["multilabel"].find_labels
    vocabulary = ["bean", "green bean", "egg", "egg tart", "rice"]
    assert find("Green Beans", vocabulary) == {"green bean"}
    assert find("green beans and beans", vocabulary) == {"green bean", "bean"}
    assert find("an EGG TART with rice", vocabulary) == {"egg tart", "rice"}
    assert find("egg tart and egg", vocabulary) == {"egg tart", "egg"}
    assert find("nothing", vocabulary) == set()


@pytest.mark.parametrize(
    ("predicted", "true", "expected"),
    [
        (set(), set(), (1.0, 1.0, 1.0)),  # both zero-division cases -> 1
        (set(), {"a"}, (1.0, 0.0, 0.0)),  # nothing predicted: precision 1
        ({"a"}, set(), (0.0, 1.0, 0.0)),  # nothing expected: recall 1
        ({"a"}, {"b"}, (0.0, 0.0, 0.0)),
        ({"a", "b"}, {"b", "c"}, (0.5, 0.5, 0.5)),
        ({"a"}, {"a", "b", "c"}, (1.0, 1 / 3, 0.5)),
        ({"a", "b"}, {"a", "b"}, (1.0, 1.0, 1.0)),
    ],
)
def test_multilabel_zero_division_cases(modules, predicted, true, expected):
    """Precision/recall/F1 follow sklearn's zero_division=1 semantics for one binary sample."""
    assert modules["multilabel"].binary_scores(predicted, true) == pytest.approx(expected)


def test_multilabel_matches_sklearn_formula(modules):
    """Exhaustively over a 4-label vocabulary: sklearn's definitions (and sklearn itself when installed)."""
    labels = "abcd"
    subsets = [set(combo) for size in range(5) for combo in itertools.combinations(labels, size)]
    try:
        from sklearn.metrics import f1_score, precision_score, recall_score
    except ImportError:  # sklearn is not a dependency; the formula check below always runs
        f1_score = precision_score = recall_score = None
    for predicted, true in itertools.product(subsets, subsets):
        tp = len(predicted & true)
        expected_f1 = 2 * tp / (len(predicted) + len(true)) if predicted or true else 1.0
        scores = modules["multilabel"].binary_scores(predicted, true)
        assert scores[2] == pytest.approx(expected_f1)
        if f1_score is not None:
            y_pred = [int(label in predicted) for label in labels]
            y_true = [int(label in true) for label in labels]
            reference = (
                precision_score(y_true, y_pred, zero_division=1),
                recall_score(y_true, y_pred, zero_division=1),
                f1_score(y_true, y_pred, zero_division=1),
            )
            assert scores == pytest.approx(reference)


def test_multilabel_compute_means(metrics):
    """compute() averages the per-example scores; duplicate vocabulary names are ignored."""
    result = metrics["multilabel"].compute(
        predictions=["I see green beans and rice.", "Just some bread.", "water"],
        references=[["green bean", "rice"], ["bread", "egg"], []],
        vocabulary=["bean", "green bean", "rice", "bread", "egg", "rice"],
    )
    assert result == pytest.approx({"f1": (1 + 2 / 3 + 1) / 3, "recall": (1 + 0.5 + 1) / 3, "precision": 1.0})


# --------------------------------------------------------------------------------------------------------------
# (3) rouge_l rules
# --------------------------------------------------------------------------------------------------------------

ROUGE_PAIRS = [
    ("mix the flour and sugar. bake for 20 minutes.", "mix flour with sugar. bake 20 minutes."),
    ("Preheat the oven", "preheat oven to 180 C"),
    ("a b c d e f", "f e d c b a"),
    ("one. two. three.", "three. two. one."),
    ("identical text here", "identical text here"),
]


def test_rouge_l_equals_rouge_package(metrics, modules):
    """Per pair and on average, the score is rouge.Rouge's ROUGE-L F to 1e-9."""
    scorer = Rouge()
    direct = [scorer.get_scores(prediction, reference)[0]["rouge-l"]["f"] for prediction, reference in ROUGE_PAIRS]
    for (prediction, reference), expected in zip(ROUGE_PAIRS, direct):
        assert abs(modules["rouge_l"].rouge_l_f(prediction, reference) - expected) < 1e-9
    result = metrics["rouge_l"].compute(
        predictions=[pair[0] for pair in ROUGE_PAIRS], references=[pair[1] for pair in ROUGE_PAIRS]
    )
    assert abs(result["rouge_l"] - sum(direct) / len(direct)) < 1e-9


def test_rouge_l_failing_pairs_score_zero(metrics):
    """Pairs the package rejects (empty prediction or reference, only periods) score 0 and still count."""
    with pytest.raises(ValueError):
        Rouge().get_scores("", "reference")
    result = metrics["rouge_l"].compute(
        predictions=["", "...", "same words", "x"], references=["some reference", "a b", "same words", ""]
    )
    same = Rouge().get_scores("same words", "same words")[0]["rouge-l"]["f"]
    assert result["rouge_l"] == pytest.approx(same / 4)
    assert metrics["rouge_l"].compute(predictions=[], references=[]) == {"rouge_l": 0.0}


# --------------------------------------------------------------------------------------------------------------
# (4) Malformed input
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_length_mismatch_names_both_lengths(name, metrics):
    """Lists of different lengths raise ValueError quoting the lengths."""
    sample = dict(SAMPLE_INPUTS[name])
    sample["references"] = sample["references"][:1]
    with pytest.raises(ValueError, match=rf"{len(sample['predictions'])}.*\b1\b"):
        metrics[name].compute(**sample)


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_non_string_prediction_rejected(name, metrics):
    """A prediction that is not a string raises ValueError naming its index."""
    sample = dict(SAMPLE_INPUTS[name])
    sample["predictions"] = [sample["predictions"][0], None, *sample["predictions"][2:]]
    with pytest.raises(ValueError, match=r"predictions\[1\]"):
        metrics[name].compute(**sample)


def test_malformed_medical_vqa(metrics):
    """Unknown answer types name the index and value; a missing column and an unknown mode are rejected."""
    metric = metrics["medical_vqa"]
    with pytest.raises(ValueError, match=r"answer_types\[1\].*'MAYBE'"):
        metric.compute(predictions=["a", "b"], references=["a", "b"], answer_types=["OPEN", "MAYBE"])
    with pytest.raises(ValueError, match="answer_types"):
        metric.compute(predictions=["a"], references=["a"])
    with pytest.raises(ValueError, match="mode"):
        metric.compute(predictions=["a"], references=["a"], answer_types=["OPEN"], mode="exact")
    # The metric still works after rejected calls.
    assert metric.compute(predictions=["a b"], references=["b"], answer_types=["OPEN"])["open_recall"] == 1.0


def test_malformed_multiple_choice(metrics):
    """A reference key outside the options, or empty / non-text options, raise ValueError naming the index."""
    metric = metrics["multiple_choice"]
    options = [{"A": "x", "B": "y"}, {"A": "x", "B": "y"}]
    with pytest.raises(ValueError, match=r"references\[1\] = 'E'"):
        metric.compute(predictions=["A", "B"], references=["A", "E"], options=options)
    with pytest.raises(ValueError, match=r"options\[0\]"):
        metric.compute(predictions=["A"], references=["A"], options=[{}])
    with pytest.raises(ValueError, match=r"options\[0\]\['A'\]"):
        metric.compute(predictions=["A"], references=["A"], options=[{"A": 3}])
    with pytest.raises(ValueError, match=r"options\[0\]"):
        metric.compute(predictions=["A"], references=["A"], options=["not json"])
    with pytest.raises(ValueError, match=r"2, 2 and 1"):
        metric.compute(predictions=["A", "B"], references=["A", "B"], options=options[:1])


def test_malformed_multilabel(metrics):
    """A reference label outside the vocabulary is named; a missing or bad vocabulary is rejected."""
    metric = metrics["multilabel"]
    with pytest.raises(ValueError, match="'tofu'"):
        metric.compute(predictions=["rice"], references=[["rice", "tofu"]], vocabulary=["rice"])
    with pytest.raises(ValueError, match="vocabulary"):
        metric.compute(predictions=["rice"], references=[["rice"]])
    with pytest.raises(ValueError, match="vocabulary"):
        metric.compute(predictions=["rice"], references=[["rice"]], vocabulary=["rice", ""])
    with pytest.raises(ValueError, match=r"references\[0\]"):
        metric.compute(predictions=["rice"], references=["rice"], vocabulary=["rice"])
    # add_batch flow: the vocabulary check happens in compute.
    metric.add_batch(predictions=["rice"], references=[["rice"]])
    with pytest.raises(ValueError, match="'rice'"):
        metric.compute(vocabulary=["bread"])
    assert metric.compute(predictions=["rice"], references=[["rice"]], vocabulary=["rice"])["f1"] == 1.0


# --------------------------------------------------------------------------------------------------------------
# Properties: arbitrary text never raises, scores stay in [0, 1]
# --------------------------------------------------------------------------------------------------------------

ANY_TEXT = st.text(max_size=60)
WORDY_TEXT = st.text(alphabet=st.sampled_from(list("ab yesno.,-()ABCD?")), max_size=40)
TEXT = st.one_of(ANY_TEXT, WORDY_TEXT)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.tuples(TEXT, TEXT, st.sampled_from(["OPEN", "CLOSED", "open"])), max_size=5),
    mode=st.sampled_from(["token", "llava_med"]),
)
def test_property_medical_vqa(metrics, rows, mode):
    """medical_vqa: any text gives scores in [0, 1] and correct counts."""
    predictions, references, answer_types = (list(column) for column in zip(*rows)) if rows else ([], [], [])
    result = metrics["medical_vqa"].compute(
        predictions=predictions, references=references, answer_types=answer_types, mode=mode
    )
    _assert_scores_in_range("medical_vqa", result)
    assert result["num_open"] + result["num_closed"] == len(rows)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(TEXT, st.dictionaries(st.sampled_from(list("ABCDE") + ["10"]), TEXT, min_size=1, max_size=5)),
        max_size=5,
    ),
    data=st.data(),
)
def test_property_multiple_choice(metrics, rows, data):
    """multiple_choice: any text with any options gives accuracy in [0, 1] and a bounded fallback count."""
    predictions = [row[0] for row in rows]
    options = [row[1] for row in rows]
    references = [data.draw(st.sampled_from(sorted(row[1]))) for row in rows]
    result = metrics["multiple_choice"].compute(predictions=predictions, references=references, options=options)
    _assert_scores_in_range("multiple_choice", result)
    assert result["num_random_fallback"] <= len(rows)


@settings(max_examples=60, deadline=None)
@given(
    vocabulary=st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=6),
    predictions=st.lists(TEXT, max_size=5),
    data=st.data(),
)
def test_property_multilabel(metrics, vocabulary, predictions, data):
    """multilabel: any text and vocabulary give scores in [0, 1]."""
    references = [data.draw(st.lists(st.sampled_from(vocabulary), max_size=3)) for _ in predictions]
    result = metrics["multilabel"].compute(predictions=predictions, references=references, vocabulary=vocabulary)
    _assert_scores_in_range("multilabel", result)


@settings(max_examples=60, deadline=None)
@given(pairs=st.lists(st.tuples(TEXT, TEXT), max_size=5))
def test_property_rouge_l(metrics, pairs):
    """rouge_l: any text gives a score in [0, 1] equal to the mean of the per-pair package scores."""
    predictions = [pair[0] for pair in pairs]
    references = [pair[1] for pair in pairs]
    result = metrics["rouge_l"].compute(predictions=predictions, references=references)
    _assert_scores_in_range("rouge_l", result)
