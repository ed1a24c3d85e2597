"""Gradio Space for the medical_vqa metric.

evaluate's ``launch_gradio_widget`` does not work with gradio 6, so this is a small app of our own.
"""

import inspect
from pathlib import Path

import evaluate
import gradio as gr

METRIC = evaluate.load(str(Path(__file__).with_name("medical_vqa.py")))
# The widget starts in the metric's own default mode ("llava_med", the published protocol), read from the metric.
DEFAULT_MODE = inspect.signature(METRIC._compute).parameters["mode"].default

EXAMPLE = (
    "There are two lesions in the left lung.\nYes, the liver is abnormal.\nIt is normal.",
    "2 lesions\nyes\nno",
    "OPEN\nCLOSED\nCLOSED",
    DEFAULT_MODE,
)


def score(predictions, references, answer_types, mode):
    """Score one answer per line of each box; show input errors in the UI."""
    try:
        return METRIC.compute(
            predictions=predictions.splitlines(),
            references=references.splitlines(),
            answer_types=answer_types.splitlines(),
            mode=mode,
        )
    except ValueError as err:
        raise gr.Error(str(err)) from None


demo = gr.Interface(
    fn=score,
    inputs=[
        gr.Textbox(label="Predictions (one per line)", lines=6),
        gr.Textbox(label="References (one per line)", lines=6),
        gr.Textbox(label="Answer types: OPEN or CLOSED (one per line)", lines=6),
        gr.Radio(
            ["llava_med", "token"],
            value=DEFAULT_MODE,
            label="Mode (llava_med: the published protocol, lenient; token: whole-token matching)",
        ),
    ],
    outputs=gr.JSON(label="Scores"),
    title="Medical VQA (LLaVA-Med protocol)",
    description=METRIC.info.description,
    article=METRIC.info.citation.replace("\n", "<br>"),
    examples=[list(EXAMPLE)],
    flagging_mode="never",
)

if __name__ == "__main__":
    demo.launch()
