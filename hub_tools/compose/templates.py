"""Template pools for composing task turns (written for this project).

Two pools, both plain ``str.format`` templates:

- :data:`QA_TEMPLATES` wrap a question into the user turn when the answer is used as is (the
  informative answer already ends in a conclusion, or informative + precise are concatenated).
  Fields: ``{question}``.
- :data:`COT_TEMPLATES` are ``(user, assistant)`` pairs for the chain-of-thought case: the
  informative answer becomes the reasoning and the precise answer the final answer. Half put the
  reasoning first (:data:`COT_REASONING_FIRST`), half the answer first (:data:`COT_ANSWER_FIRST`).
  Fields: user ``{question}``; assistant ``{reasoning}`` and ``{answer}``.

A template is drawn per example with a seeded ``random.Random`` (see :mod:`hub_tools.compose`).
"""

from __future__ import annotations

QA_TEMPLATES: tuple[str, ...] = (
    "{question}",
    "{question}\nAnswer the question using the image.",
    "Look at the image and answer: {question}",
    "Question: {question}",
    "Question: {question}\nAnswer:",
    "Based on the image, {question}",
    "Using what you can see in the picture, respond to the following.\n{question}",
    "Please answer this question about the image.\n{question}",
    "{question}\nBase your answer on the visual content.",
    "Examine the image carefully. {question}",
    "Here is a question about the picture: {question}",
    "With reference to the image: {question}",
    "{question}\nRespond based on the image.",
    "Answer the following question about this image.\n\n{question}",
    "Study the picture and reply.\n{question}",
    "Q: {question}\nA:",
    "From the image provided, {question}",
    "{question}\nUse the picture to answer.",
    "I have a question about this image: {question}",
    "Take a look at the image. {question}",
    "Consider the image shown. {question}",
    "{question}\nAnswer according to what the image shows.",
)

COT_REASONING_FIRST: tuple[tuple[str, str], ...] = (
    ("{question}", "{reasoning}\nSo the answer is: {answer}"),
    ("{question}\nThink it through before answering.", "{reasoning}\nTherefore, the answer is {answer}"),
    ("{question}\nExplain your reasoning, then give the answer.", "{reasoning}\n\nAnswer: {answer}"),
    ("Question: {question}\nLet's think step by step.", "{reasoning}\nThus, the final answer is: {answer}"),
    ("{question}\nReason about the image first.", "{reasoning}\nHence the answer: {answer}"),
    ("Look at the image. {question}", "{reasoning}\nIn conclusion, the answer is {answer}"),
    ("{question}\nShow your reasoning.", "Reasoning: {reasoning}\nAnswer: {answer}"),
    ("Based on the image, {question}", "{reasoning}\nSo the final answer is {answer}"),
    ("{question}\nWork through the visual evidence, then answer.", "{reasoning}\n\nFinal answer: {answer}"),
    ("Answer the question about the image step by step.\n{question}", "{reasoning}\nThe answer is therefore {answer}"),
    (
        "{question}\nDescribe what supports your answer, then state it.",
        "{reasoning}\nAs a result, the answer is: {answer}",
    ),
    ("Examine the picture. {question} Give your reasoning first.", "{reasoning}\nThat gives the answer: {answer}"),
    (
        "{question}\nThink carefully about the details.",
        "Let's look at the details. {reasoning}\nSo, the answer is {answer}",
    ),
    ("Question: {question}\nExplain, then answer.", "Explanation: {reasoning}\nFinal answer: {answer}"),
    ("{question}\nProvide a short rationale and the answer.", "Rationale: {reasoning}\nAnswer: {answer}"),
    ("Using the image, {question}", "{reasoning}\nTherefore: {answer}"),
    ("{question}\nFirst analyse the image, then respond.", "Analysis: {reasoning}\nResponse: {answer}"),
    ("Here is a question about the picture. {question}", "{reasoning}\nPutting this together, the answer is {answer}"),
    (
        "{question}\nReason step by step and end with the answer.",
        "Step by step: {reasoning}\nThe final answer is {answer}",
    ),
    ("Consider the image. {question}", "{reasoning}\nThus: {answer}"),
    ("{question}\nJustify your answer.", "{reasoning}\nGiven this, the answer is: {answer}"),
)

COT_ANSWER_FIRST: tuple[tuple[str, str], ...] = (
    ("{question}", "{answer}\n\nExplanation: {reasoning}"),
    ("{question}\nAnswer first, then explain.", "Answer: {answer}\nExplanation: {reasoning}"),
    (
        "Question: {question}\nGive the answer and a justification.",
        "The answer is {answer}.\nJustification: {reasoning}",
    ),
    ("{question}\nState the answer, then the evidence from the image.", "{answer}\nEvidence: {reasoning}"),
    ("Look at the image. {question}", "Short answer: {answer}\nDetails: {reasoning}"),
    ("{question}\nAnswer briefly and then elaborate.", "{answer}\n\nIn more detail: {reasoning}"),
    ("Based on the image, {question}", "Answer: {answer}\nReason: {reasoning}"),
    ("{question}\nGive the answer followed by the reasoning.", "{answer}\nReasoning: {reasoning}"),
    ("Answer the question about the image and explain why.\n{question}", "{answer}\nWhy: {reasoning}"),
    ("{question}\nRespond with the answer and a rationale.", "Answer: {answer}\nRationale: {reasoning}"),
    ("Examine the picture. {question}", "The answer: {answer}\nHere is why: {reasoning}"),
    ("{question}\nWhat is the answer, and how can you tell?", "{answer}\nHow I can tell: {reasoning}"),
    ("Question: {question}", "Final answer: {answer}\nSupporting reasoning: {reasoning}"),
    ("{question}\nLead with the answer.", "{answer}\n\nThe image shows why: {reasoning}"),
    ("Using the image, {question}", "Answer: {answer}\nExplanation: {reasoning}"),
    (
        "{question}\nAnswer, then describe what in the image supports it.",
        "{answer}\nSupport from the image: {reasoning}",
    ),
    ("Consider the image. {question} Answer first.", "{answer}\nBecause: {reasoning}"),
    ("{question}\nGive a direct answer and a short explanation.", "Direct answer: {answer}\nExplanation: {reasoning}"),
    ("Here is a question about the picture. {question}", "{answer}\nDetails from the image: {reasoning}"),
    ("{question}\nBe direct, then justify.", "{answer}\nJustification: {reasoning}"),
    ("Take a look at the image. {question}", "In short: {answer}\nIn full: {reasoning}"),
)

COT_TEMPLATES: tuple[tuple[str, str], ...] = COT_REASONING_FIRST + COT_ANSWER_FIRST
