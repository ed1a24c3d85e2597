"""The chain-of-thought template pool (``COT_POOL``): 160 templates, 69 of them inverted (~43%).

Non-inverted (91): the user asks ``{question}``; the assistant gives ``{reasoning}`` (the informative
answer) and ``{answer}`` (the precise one), reasoning first in 79 and answer first in 12 (~13%).
Inverted (69): rationale generation (given question and answer, explain: 35) and question generation
(given reasoning and answer, ask the question: 34). Wording written for this project.
"""

from __future__ import annotations

from hub_tools.compose.templates import Template, check_pool, cot, cot_answer_first, cot_inverted

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
)

_COT_RATIONALE: tuple[Template, ...] = (
    cot_inverted("Question: {question}\nAnswer: {answer}\nExplain why this answer is correct.", "{reasoning}"),
    cot_inverted("{question}\nThe answer is {answer}\nWhy?", "{reasoning}"),
    cot_inverted(
        "Here is a question about the image: {question}\n"
        "The correct answer is: {answer}\nGive the reasoning behind it.",
        "{reasoning}",
    ),
    cot_inverted(
        "Look at the image. {question}\nSomeone answered: {answer}\nExplain how they arrived at this answer.",
        "{reasoning}",
    ),
    cot_inverted(
        "Justify the answer using the image.\nQuestion: {question}\nAnswer: {answer}", "Justification: {reasoning}"
    ),
    cot_inverted("{question}\nAnswer: {answer}\nWhat in the image supports this answer?", "{reasoning}"),
    cot_inverted(
        "Given the question and its answer, write the rationale.\n"
        "\nQuestion: {question}\nAnswer: {answer}\nRationale:",
        "{reasoning}",
    ),
    cot_inverted("Q: {question}\nA: {answer}\nExplain the answer.", "{reasoning}"),
    cot_inverted(
        "Explain, step by step, why the answer to the question is correct.\n{question}\nAnswer: {answer}",
        "{reasoning}",
    ),
    cot_inverted(
        "{question}\nI was told the answer is {answer}\nCan you explain why, based on the image?",
        "Sure. {reasoning}",
    ),
    cot_inverted(
        "Write a step-by-step explanation for this question and answer pair about the image.\n"
        "Question: {question}\nAnswer: {answer}",
        "{reasoning}",
    ),
    cot_inverted("Answer: {answer}\nQuestion: {question}\nWhy is this the answer?", "{reasoning}"),
    cot_inverted(
        "Here is a question with its answer. Provide the chain of thought that connects them.\n"
        "{question}\nAnswer: {answer}",
        "Chain of thought: {reasoning}",
    ),
    cot_inverted("{question}\nThe answer given is: {answer}\nDescribe the visual evidence for it.", "{reasoning}"),
    cot_inverted(
        "Consider the image and this question: {question}\nAnswer: {answer}\nWhat reasoning leads to this answer?",
        "{reasoning}",
    ),
    cot_inverted(
        "Teacher: {question}\nStudent: {answer}\nTeacher: Good. Can you explain why?", "Student: {reasoning}"
    ),
    cot_inverted("{question}\nCorrect answer: {answer}\nGive a rationale.", "Rationale: {reasoning}"),
    cot_inverted(
        "Explain the answer to a question about this image.\n"
        "\nQuestion: {question}\n\nAnswer: {answer}\n\nExplanation:",
        "{reasoning}",
    ),
    cot_inverted(
        "The question is: {question}\nI know the answer is {answer}\nBut why? Please explain using the image.",
        "{reasoning}",
    ),
    cot_inverted(
        "Provide a justification for the answer below, based on the picture.\nQ: {question}\nA: {answer}",
        "{reasoning}",
    ),
    cot_inverted("{question}\nAnswer: {answer}\nReasoning:", "{reasoning}"),
    cot_inverted(
        "Given this image, question, and answer, explain the reasoning step by step.\n"
        "Question: {question}\nAnswer: {answer}",
        "Step by step: {reasoning}",
    ),
    cot_inverted(
        "Here is the answer: {answer}\nAnd here is the question: {question}\n"
        "Explain how the image leads from the question to the answer.",
        "{reasoning}",
    ),
    cot_inverted("Question: {question}\nThe answer is {answer}\nWhat details in the image justify it?", "{reasoning}"),
    cot_inverted("Reconstruct the reasoning.\nQuestion: {question}\nFinal answer: {answer}", "{reasoning}"),
    cot_inverted("{question}\nThe right answer is {answer}\nShow the thinking behind it.", "{reasoning}"),
    cot_inverted(
        "Look at the picture and explain why the answer to the question is as given.\n"
        "{question}\nGiven answer: {answer}",
        "{reasoning}",
    ),
    cot_inverted("Question: {question}\nAnswer: {answer}\nHow can you tell from the image?", "{reasoning}"),
    cot_inverted(
        "Write an explanation that supports this answer.\n\nAnswer: {answer}\n\nQuestion: {question}",
        "{reasoning}",
    ),
    cot_inverted("{question}\nIt turns out the answer is {answer}\nWhat is the reasoning?", "{reasoning}"),
    cot_inverted("Explain the rationale for the answer.\nQ: {question}\nA: {answer}\nRationale:", "{reasoning}"),
    cot_inverted(
        "A question about the image: {question}\nIts answer: {answer}\nWalk through why this is right.",
        "{reasoning}",
    ),
    cot_inverted("{question}\nAnswer: {answer}\nExplain this answer in detail.", "{reasoning}"),
    cot_inverted(
        "Help a student understand the answer to this question about the image.\n"
        "Question: {question}\nAnswer: {answer}",
        "Here is the reasoning. {reasoning}",
    ),
    cot_inverted(
        "Question: {question}\nProposed answer: {answer}\nExplain, using the image, why the proposed answer is right.",
        "{reasoning}",
    ),
)

_COT_QUESTION: tuple[Template, ...] = (
    cot_inverted("Reasoning: {reasoning}\nAnswer: {answer}\nWhat was the question?", "{question}"),
    cot_inverted(
        "{reasoning}\nSo the answer is {answer}\nWhat question about the image is being answered?", "{question}"
    ),
    cot_inverted(
        "Here is a rationale and an answer about the image. Write the question they answer.\n"
        "Rationale: {reasoning}\nAnswer: {answer}",
        "Question: {question}",
    ),
    cot_inverted(
        "Given the explanation and the final answer below, come up with the question.\n\n"
        "Explanation: {reasoning}\nFinal answer: {answer}",
        "{question}",
    ),
    cot_inverted("Reverse engineer the question.\nChain of thought: {reasoning}\nAnswer: {answer}", "{question}"),
    cot_inverted(
        "Stream of consciousness: {reasoning}\nThe answer: {answer}\nWhat was the question?",
        "The question was: {question}",
    ),
    cot_inverted(
        "Someone looked at this image and reasoned: {reasoning}\nThey concluded: {answer}\nWhat were they asked?",
        "{question}",
    ),
    cot_inverted("Answer: {answer}\nExplanation: {reasoning}\nWrite the question about the image.", "{question}"),
    cot_inverted("{reasoning}\nTherefore: {answer}\nWhich question does this reasoning answer?", "{question}"),
    cot_inverted(
        "Think of the question that goes with this reasoning and answer.\n"
        "Reasoning: {reasoning}\nAnswer: {answer}\nQuestion:",
        "{question}",
    ),
    cot_inverted(
        "Write a question about the picture for which the following is a good explanation and answer.\n"
        "{reasoning}\nAnswer: {answer}",
        "{question}",
    ),
    cot_inverted(
        "Explanation: {reasoning}\nFinal answer: {answer}\nWhat question was asked about the image?",
        "{question}",
    ),
    cot_inverted(
        "Below is a step-by-step solution to a question about the image.\n"
        "{reasoning}\nAnswer: {answer}\nWhat is the question?",
        "{question}",
    ),
    cot_inverted("Rationale: {reasoning}\nAnswer: {answer}\nInfer the question.", "{question}"),
    cot_inverted(
        "Given this reasoning about the image: {reasoning}\nAnd this answer: {answer}\nWhat was the question?",
        "{question}",
    ),
    cot_inverted(
        "Work backwards from the reasoning and answer to the original question.\n\n"
        "Reasoning: {reasoning}\nAnswer: {answer}",
        "Original question: {question}",
    ),
    cot_inverted(
        "Here is how someone answered a question about the image. {reasoning}\n"
        "Their final answer: {answer}\nWhat was the question?",
        "{question}",
    ),
    cot_inverted(
        "The answer is {answer}\nThe reasoning is: {reasoning}\nWhat question were they answering?",
        "{question}",
    ),
    cot_inverted(
        "What question about this image would have the following explanation and answer?\n"
        "Explanation: {reasoning}\nAnswer: {answer}",
        "{question}",
    ),
    cot_inverted("{reasoning}\nThe final answer is {answer}\nReconstruct the question.", "{question}"),
    cot_inverted(
        "Produce the question that this chain of thought and answer address.\n{reasoning}\nAnswer: {answer}",
        "{question}",
    ),
    cot_inverted("Justification: {reasoning}\nAnswer: {answer}\nQuestion:", "{question}"),
    cot_inverted(
        "Look at the image. The following reasoning leads to the answer below.\n"
        "{reasoning}\nAnswer: {answer}\nWhat question was being answered?",
        "It answers the question: {question}",
    ),
    cot_inverted("Step-by-step reasoning: {reasoning}\nConclusion: {answer}\nState the question.", "{question}"),
    cot_inverted(
        "I reasoned about the picture like this: {reasoning}\n"
        "My answer was: {answer}\nGuess the question I was asked.",
        "You were asked: {question}",
    ),
    cot_inverted(
        "Create the question for this explanation and answer about the image.\n"
        "Explanation: {reasoning}\nAnswer: {answer}",
        "{question}",
    ),
    cot_inverted("{reasoning}\nHence the answer: {answer}\nWhat question led to this?", "{question}"),
    cot_inverted(
        "Reasoning and answer are given. Supply the missing question.\nReasoning: {reasoning}\nAnswer: {answer}",
        "Missing question: {question}",
    ),
    cot_inverted("Answer: {answer}\nWhy: {reasoning}\nWhat was asked?", "{question}"),
    cot_inverted(
        "Evidence from the image: {reasoning}\nResulting answer: {answer}\nWhat is the most likely question?",
        "{question}",
    ),
    cot_inverted(
        "Figure out the question from the answer and its explanation.\n\nAnswer: {answer}\n\nExplanation: {reasoning}",
        "{question}",
    ),
    cot_inverted(
        "The following explanation and answer respond to a question about the image. {reasoning}\n"
        "So the answer is {answer}\nWrite that question.",
        "{question}",
    ),
    cot_inverted(
        "Here is a rationale: {reasoning}\nAnd here is the answer: {answer}\nWhat question fits?", "{question}"
    ),
    cot_inverted(
        "Given the image, the thought process below ends in the answer shown. Identify the question.\n"
        "Thought process: {reasoning}\nAnswer: {answer}",
        "Question: {question}",
    ),
)

COT_POOL: tuple[Template, ...] = check_pool(
    _COT_REASONING_FIRST + _COT_ANSWER_FIRST + _COT_RATIONALE + _COT_QUESTION, "COT_POOL"
)
