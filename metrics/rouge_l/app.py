"""Gradio Space for the rouge_l metric.

evaluate's ``launch_gradio_widget`` does not work with gradio 6, so this is a small app of our own.
"""

from pathlib import Path

import evaluate
import gradio as gr

METRIC = evaluate.load(str(Path(__file__).with_name("rouge_l.py")))

EXAMPLE = (
    "mix the flour and sugar. bake for 20 minutes.",
    "mix flour with sugar. bake 20 minutes.",
)


def score(predictions, references):
    """Score one pair per line; show input errors in the UI."""
    try:
        return METRIC.compute(predictions=predictions.splitlines(), references=references.splitlines())
    except ValueError as err:
        raise gr.Error(str(err)) from None


demo = gr.Interface(
    fn=score,
    inputs=[
        gr.Textbox(label="Predictions (one per line)", lines=6),
        gr.Textbox(label="References (one per line)", lines=6),
    ],
    outputs=gr.JSON(label="Scores"),
    title="ROUGE-L (rouge package protocol)",
    description=METRIC.info.description,
    article=METRIC.info.citation.replace("\n", "<br>"),
    examples=[list(EXAMPLE)],
    flagging_mode="never",
)

if __name__ == "__main__":
    demo.launch()
