"""The inverted chain-of-thought templates: the four shapes where the user is given part of the solution.

23 ``question+answer->reasoning`` (explain a given answer), 22 ``reasoning+answer->question`` (recover the
question), 23 ``reasoning->question+answer`` (from an explanation, write the question and its answer) and
22 ``answer->question+reasoning`` (from an answer, write the question and the reasoning): the released
counts. :mod:`hub_tools.compose.cot_templates` joins them into ``COT_POOL``. Wording written for this project.
"""

from __future__ import annotations

from hub_tools.compose.templates import Template, cot_from_answer, cot_from_reasoning, cot_question, cot_rationale

COT_RATIONALE: tuple[Template, ...] = (
    cot_rationale("Question: {question}\nAnswer: {answer}\nExplain why this answer is correct.", "{reasoning}"),
    cot_rationale("{question}\nThe answer is {answer}\nWhy?", "{reasoning}"),
    cot_rationale(
        "Here is a question about the image: {question}\n"
        "The correct answer is: {answer}\nGive the reasoning behind it.",
        "{reasoning}",
    ),
    cot_rationale(
        "Look at the image. {question}\nSomeone answered: {answer}\nExplain how they arrived at this answer.",
        "{reasoning}",
    ),
    cot_rationale(
        "Justify the answer using the image.\nQuestion: {question}\nAnswer: {answer}", "Justification: {reasoning}"
    ),
    cot_rationale("{question}\nAnswer: {answer}\nWhat in the image supports this answer?", "{reasoning}"),
    cot_rationale(
        "Given the question and its answer, write the rationale.\n"
        "\nQuestion: {question}\nAnswer: {answer}\nRationale:",
        "{reasoning}",
    ),
    cot_rationale("Q: {question}\nA: {answer}\nExplain the answer.", "{reasoning}"),
    cot_rationale(
        "Explain, step by step, why the answer to the question is correct.\n{question}\nAnswer: {answer}",
        "{reasoning}",
    ),
    cot_rationale(
        "{question}\nI was told the answer is {answer}\nCan you explain why, based on the image?",
        "Sure. {reasoning}",
    ),
    cot_rationale(
        "Write a step-by-step explanation for this question and answer pair about the image.\n"
        "Question: {question}\nAnswer: {answer}",
        "{reasoning}",
    ),
    cot_rationale("Answer: {answer}\nQuestion: {question}\nWhy is this the answer?", "{reasoning}"),
    cot_rationale(
        "Here is a question with its answer. Provide the chain of thought that connects them.\n"
        "{question}\nAnswer: {answer}",
        "Chain of thought: {reasoning}",
    ),
    cot_rationale("{question}\nThe answer given is: {answer}\nDescribe the visual evidence for it.", "{reasoning}"),
    cot_rationale(
        "Consider the image and this question: {question}\nAnswer: {answer}\nWhat reasoning leads to this answer?",
        "{reasoning}",
    ),
    cot_rationale(
        "Teacher: {question}\nStudent: {answer}\nTeacher: Good. Can you explain why?", "Student: {reasoning}"
    ),
    cot_rationale("{question}\nCorrect answer: {answer}\nGive a rationale.", "Rationale: {reasoning}"),
    cot_rationale(
        "Explain the answer to a question about this image.\n"
        "\nQuestion: {question}\n\nAnswer: {answer}\n\nExplanation:",
        "{reasoning}",
    ),
    cot_rationale(
        "The question is: {question}\nI know the answer is {answer}\nBut why? Please explain using the image.",
        "{reasoning}",
    ),
    cot_rationale(
        "Provide a justification for the answer below, based on the picture.\nQ: {question}\nA: {answer}",
        "{reasoning}",
    ),
    cot_rationale("{question}\nAnswer: {answer}\nReasoning:", "{reasoning}"),
    cot_rationale(
        "Given this image, question, and answer, explain the reasoning step by step.\n"
        "Question: {question}\nAnswer: {answer}",
        "Step by step: {reasoning}",
    ),
    cot_rationale(
        "Here is the answer: {answer}\nAnd here is the question: {question}\n"
        "Explain how the image leads from the question to the answer.",
        "{reasoning}",
    ),
)

COT_QUESTION: tuple[Template, ...] = (
    cot_question("Reasoning: {reasoning}\nAnswer: {answer}\nWhat was the question?", "{question}"),
    cot_question(
        "{reasoning}\nSo the answer is {answer}\nWhat question about the image is being answered?", "{question}"
    ),
    cot_question(
        "Here is a rationale and an answer about the image. Write the question they answer.\n"
        "Rationale: {reasoning}\nAnswer: {answer}",
        "Question: {question}",
    ),
    cot_question(
        "Given the explanation and the final answer below, come up with the question.\n\n"
        "Explanation: {reasoning}\nFinal answer: {answer}",
        "{question}",
    ),
    cot_question("Reverse engineer the question.\nChain of thought: {reasoning}\nAnswer: {answer}", "{question}"),
    cot_question(
        "Stream of consciousness: {reasoning}\nThe answer: {answer}\nWhat was the question?",
        "The question was: {question}",
    ),
    cot_question(
        "Someone looked at this image and reasoned: {reasoning}\nThey concluded: {answer}\nWhat were they asked?",
        "{question}",
    ),
    cot_question("Answer: {answer}\nExplanation: {reasoning}\nWrite the question about the image.", "{question}"),
    cot_question("{reasoning}\nTherefore: {answer}\nWhich question does this reasoning answer?", "{question}"),
    cot_question(
        "Think of the question that goes with this reasoning and answer.\n"
        "Reasoning: {reasoning}\nAnswer: {answer}\nQuestion:",
        "{question}",
    ),
    cot_question(
        "Write a question about the picture for which the following is a good explanation and answer.\n"
        "{reasoning}\nAnswer: {answer}",
        "{question}",
    ),
    cot_question(
        "Explanation: {reasoning}\nFinal answer: {answer}\nWhat question was asked about the image?",
        "{question}",
    ),
    cot_question(
        "Below is a step-by-step solution to a question about the image.\n"
        "{reasoning}\nAnswer: {answer}\nWhat is the question?",
        "{question}",
    ),
    cot_question("Rationale: {reasoning}\nAnswer: {answer}\nInfer the question.", "{question}"),
    cot_question(
        "Given this reasoning about the image: {reasoning}\nAnd this answer: {answer}\nWhat was the question?",
        "{question}",
    ),
    cot_question(
        "Work backwards from the reasoning and answer to the original question.\n\n"
        "Reasoning: {reasoning}\nAnswer: {answer}",
        "Original question: {question}",
    ),
    cot_question(
        "Here is how someone answered a question about the image. {reasoning}\n"
        "Their final answer: {answer}\nWhat was the question?",
        "{question}",
    ),
    cot_question(
        "The answer is {answer}\nThe reasoning is: {reasoning}\nWhat question were they answering?",
        "{question}",
    ),
    cot_question(
        "What question about this image would have the following explanation and answer?\n"
        "Explanation: {reasoning}\nAnswer: {answer}",
        "{question}",
    ),
    cot_question("{reasoning}\nThe final answer is {answer}\nReconstruct the question.", "{question}"),
    cot_question(
        "Produce the question that this chain of thought and answer address.\n{reasoning}\nAnswer: {answer}",
        "{question}",
    ),
    cot_question("Justification: {reasoning}\nAnswer: {answer}\nQuestion:", "{question}"),
)

COT_FROM_REASONING: tuple[Template, ...] = (
    cot_from_reasoning(
        "Here is an explanation about the image: {reasoning}\nWhat question does it address, and what is the answer?",
        "Question: {question}\nAnswer: {answer}",
    ),
    cot_from_reasoning(
        "Reasoning: {reasoning}\nWrite the question this reasoning answers, and its short answer.",
        "Question: {question}\nShort answer: {answer}",
    ),
    cot_from_reasoning(
        "{reasoning}\nTurn this explanation into a question and a short answer about the picture.",
        "Q: {question}\nA: {answer}",
    ),
    cot_from_reasoning(
        "Someone reasoned about this picture as follows. {reasoning}\nWhat were they asked, and what did they conclude?",
        "They were asked: {question}\nThey concluded: {answer}",
    ),
    cot_from_reasoning(
        "Read this rationale about the image.\n{reasoning}\nGive the question it supports and the answer it points to.",
        "{question}\nAnswer: {answer}",
    ),
    cot_from_reasoning(
        "Explanation: {reasoning}\nFrom this, write a question about the image and answer it.",
        "Question: {question}\nAnswer: {answer}",
    ),
    cot_from_reasoning(
        "Given the chain of thought below, reconstruct the question and give the final answer.\n{reasoning}",
        "Question: {question}\nFinal answer: {answer}",
    ),
    cot_from_reasoning(
        "{reasoning}\nWhat question about the image is this reasoning for? Answer that question too.",
        "The question: {question}\nThe answer: {answer}",
    ),
    cot_from_reasoning(
        "Thought process: {reasoning}\nState the question and the conclusion.",
        "Question: {question}\nConclusion: {answer}",
    ),
    cot_from_reasoning(
        "Use the following observations about the picture to pose a question and answer it.\n"
        "Observations: {reasoning}",
        "{question}\n{answer}",
    ),
    cot_from_reasoning(
        "Here is some reasoning: {reasoning}\nWhich question is it working toward, and what is the result?",
        "Question: {question}\nResult: {answer}",
    ),
    cot_from_reasoning(
        "Step-by-step notes about the image: {reasoning}\n"
        "Write the question these notes solve, followed by the answer.",
        "{question}\nAnswer: {answer}",
    ),
    cot_from_reasoning(
        "{reasoning}\nBased on this explanation, what was asked and what is the answer?",
        "Asked: {question}\nAnswer: {answer}",
    ),
    cot_from_reasoning(
        "Work backwards from this explanation to a question, then answer it.\n\nExplanation: {reasoning}",
        "Question: {question}\n\nAnswer: {answer}",
    ),
    cot_from_reasoning(
        "Rationale: {reasoning}\nProduce a matching question-and-answer pair about the image.",
        "Q: {question}\nA: {answer}",
    ),
    cot_from_reasoning(
        "The following reasoning was written while looking at the image. {reasoning}\n"
        "What question does it settle, and how?",
        "It settles the question: {question}\nThe answer is {answer}",
    ),
    cot_from_reasoning(
        "Look at the image and read this analysis: {reasoning}\n"
        "Formulate the question being analysed and give its answer.",
        "Question: {question}\nAnswer: {answer}",
    ),
    cot_from_reasoning(
        "Evidence gathered from the picture: {reasoning}\n"
        "What question does this evidence answer? Give the question and the answer.",
        "{question}\nThe answer: {answer}",
    ),
    cot_from_reasoning(
        "{reasoning}\nWrite a question for which this is the reasoning, then the answer it reaches.",
        "Question: {question}\nIt reaches: {answer}",
    ),
    cot_from_reasoning(
        "Create a visual question and its answer from the explanation below.\n{reasoning}",
        "Visual question: {question}\nAnswer: {answer}",
    ),
    cot_from_reasoning(
        "Here is how someone thought about the image: {reasoning}\nGuess their question and say what they answered.",
        "Their question: {question}\nTheir answer: {answer}",
    ),
    cot_from_reasoning(
        "Chain of thought: {reasoning}\nQuestion and answer?", "Question: {question}\nAnswer: {answer}"
    ),
    cot_from_reasoning(
        "I wrote this about the picture: {reasoning}\nWhat question was I answering, and what was my answer?",
        "You were answering: {question}\nYour answer was: {answer}",
    ),
)

COT_FROM_ANSWER: tuple[Template, ...] = (
    cot_from_answer(
        "The answer is {answer}\nWrite a question about the image with this answer, and explain why it is the answer.",
        "Question: {question}\nExplanation: {reasoning}",
    ),
    cot_from_answer(
        "Answer: {answer}\nWhat question about the picture does this answer, and what is the reasoning behind it?",
        "Question: {question}\nReasoning: {reasoning}",
    ),
    cot_from_answer(
        "{answer}\nThat is the answer. Give the question and the reasoning that leads to it.",
        "{question}\n{reasoning}",
    ),
    cot_from_answer(
        "Here is a final answer about the image: {answer}\nReconstruct the question and the explanation.",
        "Question: {question}\nExplanation: {reasoning}",
    ),
    cot_from_answer(
        "Given only the answer below, pose a question about the image and justify the answer.\nAnswer: {answer}",
        "Question: {question}\nJustification: {reasoning}",
    ),
    cot_from_answer(
        "Someone answered {answer}\nWhat was the question about the picture, and how could they tell?",
        "The question: {question}\nHow they could tell: {reasoning}",
    ),
    cot_from_answer(
        "Final answer: {answer}\nSupply the question and a step-by-step rationale.",
        "Question: {question}\nRationale: {reasoning}",
    ),
    cot_from_answer(
        "Think of a question about this image whose answer is {answer}\nThen explain the answer.",
        "{question}\nExplanation: {reasoning}",
    ),
    cot_from_answer("A: {answer}\nWrite the Q, then the reasoning.", "Q: {question}\nReasoning: {reasoning}"),
    cot_from_answer(
        "The result is: {answer}\nWhat question led here, and what observations support it?",
        "Question: {question}\nObservations: {reasoning}",
    ),
    cot_from_answer(
        "Work backwards from this answer to a question about the image, and explain the answer.\n\n{answer}",
        "Question: {question}\n\nExplanation: {reasoning}",
    ),
    cot_from_answer(
        "Answer about the image: {answer}\nPropose the question and describe the evidence for the answer.",
        "Proposed question: {question}\nEvidence: {reasoning}",
    ),
    cot_from_answer(
        "I know the answer is {answer}\nBut what was the question about the picture, and why is that the answer?",
        "The question was: {question}\nWhy: {reasoning}",
    ),
    cot_from_answer(
        "Here's an answer: {answer}\nCome up with the question it belongs to and the thinking behind it.",
        "Question: {question}\nThinking: {reasoning}",
    ),
    cot_from_answer(
        "{answer}\nWhich question about the image has this answer? Explain your reasoning as well.",
        "{question}\nReasoning: {reasoning}",
    ),
    cot_from_answer(
        "Given the answer below, write a matching question about the photo and an explanation.\n{answer}",
        "Question: {question}\nExplanation: {reasoning}",
    ),
    cot_from_answer(
        "Answer: {answer}\nQuestion and chain of thought?", "Question: {question}\nChain of thought: {reasoning}"
    ),
    cot_from_answer(
        "The correct answer to a question about this image is {answer}\n"
        "State the question and show how the image supports the answer.",
        "{question}\nHow the image supports it: {reasoning}",
    ),
    cot_from_answer(
        "Reverse the task: from the answer, give the question and the reasoning.\nAnswer: {answer}",
        "Question: {question}\nReasoning: {reasoning}",
    ),
    cot_from_answer(
        "My answer was {answer}\nWhat question about the picture was I asked, and how did I reason?",
        "You were asked: {question}\nYour reasoning: {reasoning}",
    ),
    cot_from_answer(
        "Here is the conclusion: {answer}\n"
        "Write the question and the argument that reaches this conclusion, using the image.",
        "Question: {question}\nArgument: {reasoning}",
    ),
    cot_from_answer(
        "Result: {answer}\nWhat was asked about the image, and why is this the result?",
        "Asked: {question}\nWhy: {reasoning}",
    ),
)
