"""The question-answer template pool (``QA_POOL``): 79 templates, the released count of every shape.

64 ``direct`` (the user turn holds ``{question}``, the assistant turn ``{answer}``), 10
``answer->question`` (the user is given ``{answer}`` and asked for the question) and 5 ``question-only``
(the user asks for a question about the image; the assistant writes ``{question}``, the answer is not
used). Wording written for this project.
"""

from __future__ import annotations

from hub_tools.compose.templates import Template, check_pool, qa, qa_inverted, qa_question_only

_QA_DIRECT: tuple[Template, ...] = (
    qa("{question}"),
    qa("{question}\nAnswer using the picture."),
    qa("Look at the picture and answer the question below.\n{question}"),
    qa("Question: {question}\nAnswer:"),
    qa("Q: {question}\nA:"),
    qa("Answer this question about the image: {question}"),
    qa("Here is a question about what is shown. {question}"),
    qa("Please look carefully at the image before answering.\n\n{question}"),
    qa("{question}\nPlease answer based on what you see."),
    qa("Read the question and respond according to the image.\nQuestion: {question}"),
    qa("The image goes with this question: {question}"),
    qa("Can you answer the following question about the image?\n{question}"),
    qa("I'm curious about something in this picture. {question}"),
    qa("{question}\nGive an answer grounded in the image.", "Answer: {answer}"),
    qa("Use the visual content to answer.\n{question}"),
    qa("Answer the question below. Rely only on the image.\n\n{question}"),
    qa("Task: answer a question about the image.\nQuestion: {question}"),
    qa("{question}\nWhat does the image tell you?"),
    qa("Look closely: {question}"),
    qa("Help me with this question about the photo: {question}"),
    qa("{question}\nRespond to the question above using details from the image."),
    qa("Here's my question. {question}"),
    qa("Inspect the image, then answer.\n{question}"),
    qa("Input question: {question}\nOutput answer:"),
    qa("Given the picture, respond to this question.\n{question}"),
    qa("{question} Answer by looking at the image."),
    qa("Someone looking at this image asks: {question}\nHow would you answer?"),
    qa("Question about the image:\n{question}"),
    qa("Observe the scene and answer.\n{question}"),
    qa("{question}\nKeep your answer faithful to the picture.", "Based on the image: {answer}"),
    qa("Please respond to the question that follows. Base your response on the image.\n{question}"),
    qa("Answer the question: {question}"),
    qa("What would you answer here? {question}"),
    qa("{question}\nThe image holds the answer."),
    qa("Study the visual and answer the question.\nQ: {question}"),
    qa("Consider what the image shows.\n\n{question}\n\nAnswer:"),
    qa("A question about the photo follows.\n{question}"),
    qa("Answer based on the visual evidence: {question}"),
    qa("{question}\n(Answer with reference to the image.)"),
    qa("Quick question about this picture: {question}"),
    qa("Please help answer this. {question}"),
    qa("{question}\nAnswer the question."),
    qa("Examine the image and then respond to this question.\n{question}", "My answer: {answer}"),
    qa("Question: {question}\nUse the image to find the answer."),
    qa("Your task is to answer questions about images.\n\nQuestion: {question}"),
    qa("From looking at the image, how would you answer this? {question}"),
    qa("{question}\nLook at the image for clues."),
    qa("Here is the question: {question}\nWhat is the answer?"),
    qa("Read this question, look at the picture, and answer it.\n{question}"),
    qa("Respond to the question about the visual content.\n{question}\nResponse:"),
    qa("Answer the following.\n{question}"),
    qa("{question}\nWhat is the correct answer according to the image?", "According to the image: {answer}"),
    qa("Take a look at the image.\n{question}"),
    qa("{question}\nReply using what the image shows."),
    qa("Image question: {question}\nYour answer:"),
    qa("Please answer the following question about this photo.\n\n{question}"),
    qa("Here is something I want to know about the picture: {question}"),
    qa("Given this image, please answer: {question}"),
    qa("Examine the photo.\nQ: {question}", "A: {answer}"),
    qa("{question}\nWhat do you see that answers this?"),
    qa("The following question concerns the picture above.\n{question}"),
    qa("Answer from the image alone.\nQuestion: {question}\nAnswer:"),
    qa("{question}\nTell me, based on the image.", "Based on what the image shows: {answer}"),
    qa("A question for you about this image follows.\n\n{question}\n\nPlease answer it."),
)

_QA_INVERTED: tuple[Template, ...] = (
    qa_inverted("Here is an answer about the image: {answer}\nWhat question does it answer?"),
    qa_inverted("Answer: {answer}\nWrite a question about the image that this answer responds to."),
    qa_inverted("The following is the answer to a question about this picture.\n{answer}\nWhat was the question?"),
    qa_inverted("Given the image and the answer below, come up with the question.\nAnswer: {answer}\nQuestion:"),
    qa_inverted("{answer}\nWhich question about the image would lead to this answer?"),
    qa_inverted(
        "Let's reverse the usual task: I give you an answer, you give me a question about the image that it "
        "answers.\nAnswer: {answer}",
        "Question: {question}",
    ),
    qa_inverted("Write a question about the photo whose answer is the following: {answer}"),
    qa_inverted(
        "Here's a response someone gave about the image: {answer}\nWhat were they asked?",
        "They were asked: {question}",
    ),
    qa_inverted("Generate a question for this image. The answer to your question should be: {answer}"),
    qa_inverted("A: {answer}\nWhat question about the image goes with this answer?", "Q: {question}"),
)

_QA_QUESTION_ONLY: tuple[Template, ...] = (
    qa_question_only("Ask a question about this image."),
    qa_question_only("Write one question that someone could answer by looking at this picture."),
    qa_question_only("What is a good question to ask about what is shown here?", "Question: {question}"),
    qa_question_only("Come up with a question about the image.", "Here is a question about the image: {question}"),
    qa_question_only("Generate a question that tests whether someone has understood this picture."),
)

QA_POOL: tuple[Template, ...] = check_pool(_QA_DIRECT + _QA_INVERTED + _QA_QUESTION_ONLY, "QA_POOL")
