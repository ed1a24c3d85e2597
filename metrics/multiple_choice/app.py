"""Gradio Space for the multiple_choice metric.

evaluate's ``launch_gradio_widget`` does not work with gradio 6, so this is a small app of our own.
"""

import json
from pathlib import Path

import evaluate
import gradio as gr

METRIC = evaluate.load(str(Path(__file__).with_name("multiple_choice.py")))

EXAMPLE = (
    "The answer is (B).\nThis image was taken with an MRI scanner\nC",
    "B\nB\nA",
    '{"A": "Lung", "B": "Liver", "C": "Kidney", "D": "Heart"}\n'
    '{"A": "CT", "B": "MRI", "C": "X-ray", "D": "Ultrasound"}\n'
    '{"A": "Benign", "B": "Malignant", "C": "Normal", "D": "Unknown"}',
)


def score(predictions, references, options):
    """Score one example per line; options are one JSON object per line. Show input errors in the UI."""
    try:
        parsed_options = [json.loads(line) for line in options.splitlines()]
    except json.JSONDecodeError as err:
        raise gr.Error(f"Options must be one JSON object per line: {err}") from None
    try:
        return METRIC.compute(
            predictions=predictions.splitlines(),
            references=references.splitlines(),
            options=parsed_options,
        )
    except ValueError as err:
        raise gr.Error(str(err)) from None


demo = gr.Interface(
    fn=score,
    inputs=[
        gr.Textbox(label="Predictions (one per line)", lines=6),
        gr.Textbox(label="Reference keys (one per line)", lines=6),
        gr.Textbox(label='Options: one JSON object per line, e.g. {"A": "...", "B": "..."}', lines=6),
    ],
    outputs=gr.JSON(label="Scores"),
    title="Multiple choice (MMMU-style parsing)",
    description=METRIC.info.description,
    article=METRIC.info.citation.replace("\n", "<br>"),
    examples=[list(EXAMPLE)],
    flagging_mode="never",
)

if __name__ == "__main__":
    demo.launch()
