"""Gradio Space for the multilabel metric.

evaluate's ``launch_gradio_widget`` does not work with gradio 6, so this is a small app of our own.
"""

from pathlib import Path

import evaluate
import gradio as gr

METRIC = evaluate.load(str(Path(__file__).with_name("multilabel.py")))

EXAMPLE = (
    "I see green beans and rice.\nJust some bread.",
    "green bean; rice\nbread; egg",
    "bean\ngreen bean\nrice\nbread\negg",
)


def score(predictions, references, vocabulary):
    """Score one example per line; reference labels are separated by ';'. Show input errors in the UI."""
    reference_lists = [[name.strip() for name in line.split(";") if name.strip()] for line in references.splitlines()]
    names = [line.strip() for line in vocabulary.splitlines() if line.strip()]
    try:
        return METRIC.compute(predictions=predictions.splitlines(), references=reference_lists, vocabulary=names)
    except ValueError as err:
        raise gr.Error(str(err)) from None


demo = gr.Interface(
    fn=score,
    inputs=[
        gr.Textbox(label="Predictions (one per line)", lines=6),
        gr.Textbox(label="Reference labels (one example per line, labels separated by ';')", lines=6),
        gr.Textbox(label="Vocabulary (one label name per line)", lines=6),
    ],
    outputs=gr.JSON(label="Scores"),
    title="Multi-label precision / recall / F1",
    description=METRIC.info.description,
    article=METRIC.info.citation.replace("\n", "<br>"),
    examples=[list(EXAMPLE)],
    flagging_mode="never",
)

if __name__ == "__main__":
    demo.launch()
