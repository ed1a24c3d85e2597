"""The chain-of-thought template pool (``COT_POOL``): 210 templates, the released count of every shape.

The user asks ``{question}`` in 120: the assistant gives ``{reasoning}`` (the informative answer) and
``{answer}`` (the precise one), reasoning first in 104 (``forward``), answer first in 15
(``answer-first``), and the reasoning alone in 1 (``answer-dropping``). The other 90, inverted, are in
:mod:`hub_tools.compose.cot_inverted_templates`. Wording written for this project.
"""

from __future__ import annotations

from hub_tools.compose.cot_inverted_templates import COT_FROM_ANSWER, COT_FROM_REASONING, COT_QUESTION, COT_RATIONALE
from hub_tools.compose.templates import Template, check_pool, cot, cot_answer_dropping, cot_answer_first

_COT_REASONING_FIRST: tuple[Template, ...] = (
    cot("{question}", "{reasoning}\nSo the answer is: {answer}"),
    cot("{question}\nLet's think step by step.", "{reasoning}\nTherefore, the final answer is: {answer}"),
    cot("Question: {question}\nThink it through, then answer.", "{reasoning}\nThe answer is {answer}"),
    cot(
        "Look at the image and reason carefully before answering.\n{question}",
        "{reasoning}\nSo, the answer is {answer}",
    ),
    cot("{question}\nExplain your reasoning first.", "{reasoning}\nHence, the answer: {answer}"),
    cot("Answer the question about the image. Show your work.\n\n{question}", "{reasoning}\n\nFinal answer: {answer}"),
    cot("Q: {question}\nA: Let's think about what the image shows.", "{reasoning}\nSo the final answer is {answer}"),
    cot(
        "{question}\nGive a step-by-step explanation and then the answer.",
        "Step-by-step explanation: {reasoning}\nAnswer: {answer}",
    ),
    cot(
        "Reason about the visual details to answer this question: {question}",
        "{reasoning}\nThis means the answer is {answer}",
    ),
    cot("{question}\nWalk me through your thinking.", "Sure. {reasoning}\nThat leads to the answer: {answer}"),
    cot(
        "Use the image to answer the following question. Explain how you got there.\n{question}",
        "{reasoning}\nThus, the answer is: {answer}",
    ),
    cot("Question: {question}\nRationale and answer:", "{reasoning}\nThe answer: {answer}"),
    cot("{question}\nThink carefully about the picture before you respond.", "{reasoning}\nMy answer is {answer}"),
    cot(
        "Here is a question about the image. {question}\nPlease reason it out.",
        "{reasoning}\nSo my final answer is: {answer}",
    ),
    cot("{question}\nStream of consciousness:", "{reasoning}\nSo the answer is {answer}"),
    cot(
        "Look at the picture. {question} Explain before answering.", "{reasoning}\nIn the end, the answer is {answer}"
    ),
    cot(
        "Consider the following question about the image and answer it step by step.\n{question}",
        "Let's work through it. {reasoning}\nConclusion: {answer}",
    ),
    cot("{question}\nJustify your answer with what you see.", "{reasoning}\nGiven that, the answer is {answer}"),
    cot(
        "Carefully examine the image.\n\nQuestion: {question}\n\nShow your reasoning, then answer.",
        "Reasoning: {reasoning}\n\nAnswer: {answer}",
    ),
    cot("{question}\nFirst describe the relevant evidence, then answer.", "Evidence: {reasoning}\nAnswer: {answer}"),
    cot("Question: {question}\nLet's reason about this.", "{reasoning}\nTherefore: {answer}"),
    cot("{question}\nHow do you know? Explain, then give your answer.", "{reasoning}\nSo I would say: {answer}"),
    cot(
        "I need help with a question about this image. {question} Please explain your answer.",
        "{reasoning}\nBased on this, the answer is {answer}",
    ),
    cot("{question}\nAnswer with a brief justification.", "{reasoning}\nAnswer: {answer}"),
    cot(
        "Analyse the image and answer the question below.\n{question}", "Analysis: {reasoning}\nFinal answer: {answer}"
    ),
    cot("{question}\nThink out loud before answering.", "Thinking out loud: {reasoning}\nSo the answer is: {answer}"),
    cot("Answer the question by reasoning over the image.\nQ: {question}", "{reasoning}\nA: {answer}"),
    cot(
        "{question}\nProvide your chain of thought and the answer.", "Chain of thought: {reasoning}\nAnswer: {answer}"
    ),
    cot("Observe the scene carefully. {question}", "{reasoning}\nAll things considered, the answer is {answer}"),
    cot(
        "{question}\nWhat is your answer, and why? Start with why.", "{reasoning}\nThat is why the answer is {answer}"
    ),
    cot("Question: {question}\nExplanation:", "{reasoning}\nAnswer: {answer}"),
    cot(
        "{question}\nReason step by step, then state the answer clearly.", "{reasoning}\nThe final answer is: {answer}"
    ),
    cot("Solve this question about the image. Show each step.\n{question}", "{reasoning}\nSolution: {answer}"),
    cot("{question}\nMake sure to explain your thinking.", "{reasoning}\nSo, to answer the question: {answer}"),
    cot(
        "Look at the image. Then answer, giving your reasons.\n\n{question}",
        "{reasoning}\nFor these reasons, the answer is {answer}",
    ),
    cot("{question}\nLet's work this out slowly.", "{reasoning}\nAnd so the answer is {answer}"),
    cot(
        "Here is a visual question: {question}\nGive a rationale before the answer.",
        "Rationale: {reasoning}\nAnswer: {answer}",
    ),
    cot("{question}\nExplain what you notice in the image and conclude.", "{reasoning}\nIn conclusion: {answer}"),
    cot("Given the image, reason about this question: {question}", "{reasoning}\nThe answer, then, is {answer}"),
    cot("{question}\nBe thorough in your explanation.", "{reasoning}\n\nTherefore, my answer is: {answer}"),
    cot(
        "Think about the image step by step to answer this.\nQuestion: {question}",
        "{reasoning}\nSo the answer must be {answer}",
    ),
    cot("{question}\nDetailed answer:", "{reasoning}\nIn short: {answer}"),
    cot("Please answer the question and include your reasoning.\n{question}", "{reasoning}\nShort answer: {answer}"),
    cot("{question}\nUse evidence from the picture.", "{reasoning}\nThis points to the answer: {answer}"),
    cot(
        "Describe your reasoning, then answer.\nQuestion: {question}", "My reasoning: {reasoning}\nMy answer: {answer}"
    ),
    cot("{question}\nLet's look at the picture closely.", "Looking closely: {reasoning}\nSo the answer is {answer}"),
    cot(
        "Answer the following question with an explanation.\n\n{question}",
        "Explanation: {reasoning}\n\nAnswer: {answer}",
    ),
    cot("{question}\nThink first, answer second.", "{reasoning}\nNow the answer: {answer}"),
    cot(
        "Question about the image: {question}\nLet's think.",
        "{reasoning}\nWe can conclude that the answer is {answer}",
    ),
    cot("{question}\nGive your reasoning and finish with the final answer.", "{reasoning}\nFinal answer: {answer}"),
    cot(
        "What is the answer to this question, based on the image? Explain.\n{question}",
        "{reasoning}\nAccordingly, the answer is {answer}",
    ),
    cot("{question}\nReason through the visual clues.", "The visual clues: {reasoning}\nSo the answer is: {answer}"),
    cot(
        "Study the picture and work out the answer.\n{question}",
        "{reasoning}\nWorking this out, the answer is {answer}",
    ),
    cot("{question}\nWhy? Explain, then answer.", "{reasoning}\nThus the answer is {answer}"),
    cot("Take a close look at the image. {question}\nExplain your answer.", "{reasoning}\nMy answer: {answer}"),
    cot(
        "{question}\nIt helps to reason about the image first.",
        "{reasoning}\nWith that in mind, the answer is {answer}",
    ),
    cot(
        "Here is a question. {question}\nAnswer it with reasoning grounded in the image.",
        "{reasoning}\nThe answer is: {answer}",
    ),
    cot("{question}\nPlease think step by step.", "{reasoning}\nSo, the final answer: {answer}"),
    cot(
        "Respond to the question about the photo, explaining your logic.\n{question}",
        "Logic: {reasoning}\nResponse: {answer}",
    ),
    cot("{question}\nBreak it down before answering.", "Breaking it down: {reasoning}\nAnswer: {answer}"),
    cot(
        "Inspect the image and answer with an explanation.\nQ: {question}\nA:",
        "{reasoning}\nSo the answer is {answer}",
    ),
    cot("{question}\nWhat leads you to your answer?", "{reasoning}\nThis leads me to the answer: {answer}"),
    cot(
        "Let's answer a question about the image.\n{question}\nFirst, the reasoning.",
        "{reasoning}\nAnd the answer: {answer}",
    ),
    cot("{question}\nOutline your thought process.", "Thought process: {reasoning}\nAnswer: {answer}"),
    cot("Answer using careful visual reasoning: {question}", "{reasoning}\nHence the answer is {answer}"),
    cot("{question}\nSupport your answer with observations.", "Observations: {reasoning}\nAnswer: {answer}"),
    cot("Question: {question}\nStep-by-step reasoning:", "{reasoning}\nSo the answer is: {answer}"),
    cot(
        "{question}\nExplain it as you would to a friend, then answer.",
        "{reasoning}\nSo basically, the answer is {answer}",
    ),
    cot(
        "Read the question, study the image, and reason your way to the answer.\n{question}",
        "{reasoning}\nThe answer I reach is {answer}",
    ),
    cot("{question}\nGive me the reasoning, then the answer.", "Reasoning: {reasoning}\nThe answer: {answer}"),
    cot(
        "Based on what is shown, answer the question below and explain how you decided.\n\n{question}",
        "{reasoning}\nDecision: {answer}",
    ),
    cot(
        "{question}\nConsider all the details in the image.",
        "{reasoning}\nTaking all of this into account, the answer is {answer}",
    ),
    cot(
        "My question is about the photo. {question}\nCan you explain the answer?",
        "{reasoning}\nSo the answer would be {answer}",
    ),
    cot("{question}\nShow the reasoning that leads to your answer.", "{reasoning}\nWhich leads to: {answer}"),
    cot("Answer step by step.\n{question}", "{reasoning}\nSo: {answer}"),
    cot("{question}\nExplain and answer.", "{reasoning}\nAnswer: {answer}"),
    cot(
        "Use the image to reason about the question, then answer it.\nQuestion: {question}\nAnswer:",
        "{reasoning}\nSo the answer is {answer}",
    ),
    cot("{question}\nWhat can you infer from the image? Then answer.", "Inference: {reasoning}\nAnswer: {answer}"),
    cot("Look at the image and tell me: {question}\nInclude your reasoning.", "{reasoning}\nSo, my answer: {answer}"),
    cot("{question}\nReason it through before giving the answer.", "{reasoning}\nHence: {answer}"),
    cot(
        "Here is a question about the picture.\n{question}\nWork it out step by step.",
        "{reasoning}\nResult: {answer}",
    ),
    cot("Q: {question}\nThink before you answer.", "{reasoning}\nA: {answer}"),
    cot("{question}\nExplain, then conclude.", "{reasoning}\nConclusion: the answer is {answer}"),
    cot(
        "Look carefully at the picture and explain your answer to this question.\n{question}",
        "{reasoning}\nMy final answer: {answer}",
    ),
    cot(
        "{question}\nDescribe what supports your answer, then give it.",
        "{reasoning}\nAnswer given the above: {answer}",
    ),
    cot("Question: {question}\nWork through the visual evidence.", "Visual evidence: {reasoning}\nAnswer: {answer}"),
    cot("{question}\nTalk me through it.", "{reasoning}\nSo my answer is {answer}"),
    cot(
        "Think about this question carefully, using the image.\n\n{question}",
        "{reasoning}\n\nThe answer is therefore: {answer}",
    ),
    cot("{question}\nReason first. Answer last.", "{reasoning}\nLast, the answer: {answer}"),
    cot(
        "Please solve the following visual question, showing your reasoning.\n{question}",
        "{reasoning}\nSolved: {answer}",
    ),
    cot("{question}\nWhat's your reasoning?", "{reasoning}\nThis gives the answer {answer}"),
    cot(
        "Use the picture to reason out an answer.\nQuestion: {question}",
        "Reasoning from the picture: {reasoning}\nAnswer: {answer}",
    ),
    cot("{question}\nProvide a worked explanation.", "Worked explanation: {reasoning}\nFinal answer: {answer}"),
    cot(
        "Examine the image, think it over, and answer.\n{question}",
        "{reasoning}\nAfter thinking it over, the answer is {answer}",
    ),
    cot("{question}\nLay out your thoughts, then answer.", "{reasoning}\nOverall, the answer is {answer}"),
    cot("An image-based question: {question}\nExplain your way to the answer.", "{reasoning}\nThus: {answer}"),
    cot("{question}\nShow how the image leads to the answer.", "{reasoning}\nThe image leads to the answer: {answer}"),
    cot("Let's reason about the photo together.\n{question}", "{reasoning}\nTogether, that gives: {answer}"),
    cot("{question}\nAnswer this after a careful look, with reasons.", "{reasoning}\nAfter a careful look: {answer}"),
    cot("Question: {question}\nGive your reasons first.", "Reasons: {reasoning}\nAnswer: {answer}"),
    cot("{question}\nFirst think, then respond.", "Thinking: {reasoning}\nResponse: {answer}"),
    cot(
        "Study the image closely and reason out this question: {question}",
        "{reasoning}\nThe reasoned answer is {answer}",
    ),
    cot("{question}\nExplain your reasoning in a few sentences and answer.", "{reasoning}\nAnswer in short: {answer}"),
    cot(
        "Consider the picture. {question}\nWhat is the answer, and how do you know?",
        "{reasoning}\nThat is how I know the answer is {answer}",
    ),
)

_COT_ANSWER_FIRST: tuple[Template, ...] = (
    cot_answer_first("{question}\nAnswer first, then explain.", "{answer}\n\nExplanation: {reasoning}"),
    cot_answer_first(
        "Question: {question}\nGive the answer, followed by your reasoning.",
        "Answer: {answer}\nReasoning: {reasoning}",
    ),
    cot_answer_first("{question}\nState your answer and then justify it.", "{answer}\nJustification: {reasoning}"),
    cot_answer_first(
        "Look at the image and answer directly, then explain.\n{question}", "{answer}\nHere is why. {reasoning}"
    ),
    cot_answer_first(
        "{question}\nLead with the answer, then the evidence.",
        "Answer: {answer}\nEvidence from the image: {reasoning}",
    ),
    cot_answer_first(
        "Answer this question about the picture and explain why.\n\n{question}", "{answer}\nWhy: {reasoning}"
    ),
    cot_answer_first(
        "{question}\nWhat is the answer? Explain afterwards.", "The answer is {answer}\nExplanation: {reasoning}"
    ),
    cot_answer_first(
        "Q: {question}\nGive a short answer and a rationale.", "Short answer: {answer}\nRationale: {reasoning}"
    ),
    cot_answer_first("{question}\nBe direct, then elaborate.", "{answer}\n\nTo elaborate: {reasoning}"),
    cot_answer_first(
        "Answer the question below. Put the answer first and the explanation after.\n{question}",
        "{answer}\nBecause: {reasoning}",
    ),
    cot_answer_first(
        "{question}\nGive the answer with a supporting explanation.",
        "{answer}\nSupporting explanation: {reasoning}",
    ),
    cot_answer_first(
        "Based on the image, what is the answer to this question? Afterwards, tell me how you know.\n{question}",
        "{answer}\nHow I know: {reasoning}",
    ),
    cot_answer_first("{question}\nGive the answer up front, then your reasoning.", "{answer}\nReasoning: {reasoning}"),
    cot_answer_first(
        "Question: {question}\nStart with the answer and then explain it.",
        "Answer: {answer}\nExplanation: {reasoning}",
    ),
    cot_answer_first("Answer first. Justify afterwards.\n{question}", "{answer}\n\nJustification: {reasoning}"),
)

_COT_ANSWER_DROPPING: tuple[Template, ...] = (
    cot_answer_dropping(
        "{question}\nWithout stating a final answer, explain what in the image is relevant to this question.",
        "{reasoning}",
    ),
)

COT_POOL: tuple[Template, ...] = check_pool(
    _COT_REASONING_FIRST
    + _COT_ANSWER_FIRST
    + _COT_ANSWER_DROPPING
    + COT_RATIONALE
    + COT_QUESTION
    + COT_FROM_REASONING
    + COT_FROM_ANSWER,
    "COT_POOL",
)
