"""Template pools for composing task turns (all wording written for this project).

Composition turns a synthesized triplet (question, informative answer, precise answer) into one
training turn (user text, assistant text). The image is attached separately, so no template holds
``<image>``. Every template here is a plain ``str.format`` template, written by us in FLAN-style
instruction phrasing; none is copied from the paper's released templates.

Structured pools (:class:`Template`), shaped like the released method's pools:

- :data:`QA_POOL` (64 templates), the answer used as is. 52 ask the question (user ``{question}``,
  assistant ``{answer}``); 12 (~19%) are *inverted*: the user gives ``{answer}`` and asks for the
  question (assistant ``{question}``).
- :data:`COT_POOL` (160 templates), chain of thought: the informative answer is ``{reasoning}``, the
  precise answer is ``{answer}``. 91 ask the question (user ``{question}``; assistant ``{reasoning}``
  and ``{answer}``), of which 12 (~13%) put the answer first (``answer_first``) and 79 reason first.
  69 (~43%) are inverted: 35 ask for the rationale (user ``{question}`` and ``{answer}``, assistant
  ``{reasoning}``) and 34 ask for the question (user ``{reasoning}`` and ``{answer}``, assistant
  ``{question}``).

Every template is validated at import: the fields it uses match its kind and inversion, no field
follows a comma (so ``{question}`` keeps its own capital letter), no field is glued to trailing
punctuation, no literal braces, no duplicates.

Older flat pools, still used by :mod:`hub_tools.compose.rules` and kept unchanged:

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

import re
from dataclasses import dataclass
from string import Formatter

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


# --------------------------------------------------------------------------------------------------
# Structured pools
# --------------------------------------------------------------------------------------------------

_FIELDS = ("question", "answer", "reasoning")

# (kind, inverted) -> the allowed (user fields, assistant fields) combinations
_SHAPES: dict[tuple[str, bool], tuple[tuple[frozenset[str], frozenset[str]], ...]] = {
    ("qa", False): ((frozenset({"question"}), frozenset({"answer"})),),
    ("qa", True): ((frozenset({"answer"}), frozenset({"question"})),),
    ("cot", False): ((frozenset({"question"}), frozenset({"reasoning", "answer"})),),
    ("cot", True): (
        (frozenset({"question", "answer"}), frozenset({"reasoning"})),  # rationale generation
        (frozenset({"reasoning", "answer"}), frozenset({"question"})),  # question generation
    ),
}

# what may come right before a field: start of text, a newline, "word: ", "x. ", "x? ", "x! ", or a plain
# space after a word (``The answer is {answer}``); never a comma. {question} and {reasoning} are whole
# sentences, so for them the plain-space case is not allowed (they keep their own capital letter).
_SENTENCE_START = re.compile(r"(?:^|\n|[:.?!] )$")
_AFTER_WORD = re.compile(r"[A-Za-z] $")
# what may come right after a field: end of text, a newline or a space (no glued punctuation)
_FIELD_END = re.compile(r"^(?:$|\n| )")


def _fields(template: str) -> list[str]:
    """Field names of ``template`` in order; rejects literal braces, specs, conversions, attributes."""
    names = []
    for literal, name, spec, conversion in Formatter().parse(template):
        if "{" in literal or "}" in literal:
            raise ValueError(f"literal brace in template {template!r}")
        if name is None:
            continue
        if name not in _FIELDS or spec or conversion:
            raise ValueError(f"unsupported field {name!r} in template {template!r}")
        names.append(name)
    return names


def _check_boundaries(template: str) -> None:
    for match in re.finditer(r"\{(\w+)\}", template):
        before, after = template[: match.start()], template[match.end() :]
        if before.endswith(","):
            raise ValueError(f"field after a comma in {template!r}")
        if not (_SENTENCE_START.search(before) or (match.group(1) == "answer" and _AFTER_WORD.search(before))):
            raise ValueError(f"field {match.group(0)} does not start a sentence or line in {template!r}")
        if not _FIELD_END.match(after):
            raise ValueError(f"punctuation glued after {match.group(0)} in {template!r}")


@dataclass(frozen=True)
class Template:
    """One (user, assistant) template pair.

    ``kind`` is ``"qa"`` or ``"cot"``; ``inverted`` marks templates that give the answer and ask for
    the question (qa, cot) or for the rationale (cot); ``answer_first`` marks non-inverted cot
    templates whose assistant text states the answer before the reasoning.
    """

    user: str
    assistant: str
    kind: str
    inverted: bool
    answer_first: bool = False

    def __post_init__(self) -> None:
        if (self.kind, self.inverted) not in _SHAPES:
            raise ValueError(f"unknown kind {self.kind!r}")
        user, assistant = _fields(self.user), _fields(self.assistant)
        if len(set(user)) != len(user) or len(set(assistant)) != len(assistant):
            raise ValueError(f"field repeated in {self!r}")
        if (frozenset(user), frozenset(assistant)) not in _SHAPES[(self.kind, self.inverted)]:
            raise ValueError(f"fields {user} -> {assistant} do not fit kind={self.kind} inverted={self.inverted}")
        if self.answer_first and (self.kind != "cot" or self.inverted):
            raise ValueError("answer_first only applies to non-inverted cot templates")
        if self.kind == "cot" and not self.inverted and self.answer_first != (assistant[0] == "answer"):
            raise ValueError(f"answer_first={self.answer_first} does not match the assistant order in {self!r}")
        for text in (self.user, self.assistant):
            if "<image>" in text:
                raise ValueError(f"template holds <image>: {text!r}")
            _check_boundaries(text)

    @property
    def target(self) -> str:
        """What the assistant produces: ``"answer"``, ``"question"`` or ``"reasoning"``."""
        if not self.inverted:
            return "answer"
        return "question" if "question" in _fields(self.assistant) else "reasoning"

    @property
    def fields(self) -> frozenset[str]:
        """All fields the template needs."""
        return frozenset(_fields(self.user)) | frozenset(_fields(self.assistant))

    def render(self, **fields: str) -> tuple[str, str]:
        """``(user, assistant)`` text; takes only the fields it needs (extra ones are ignored).

        Field values are inserted verbatim (braces in them are not re-interpreted).
        """
        missing = self.fields - fields.keys()
        if missing:
            raise KeyError(f"missing field(s) {sorted(missing)} for template {self.user!r}")
        values = {name: fields[name] for name in self.fields}
        return self.user.format_map(values), self.assistant.format_map(values)


def _qa(user: str, assistant: str = "{answer}") -> Template:
    return Template(user, assistant, "qa", inverted=False)


def _qa_inv(user: str, assistant: str = "{question}") -> Template:
    return Template(user, assistant, "qa", inverted=True)


def _cot(user: str, assistant: str) -> Template:
    return Template(user, assistant, "cot", inverted=False)


def _cot_af(user: str, assistant: str) -> Template:
    return Template(user, assistant, "cot", inverted=False, answer_first=True)


def _cot_inv(user: str, assistant: str) -> Template:
    return Template(user, assistant, "cot", inverted=True)


_QA_DIRECT: tuple[Template, ...] = (
    _qa("{question}"),
    _qa("{question}\nAnswer using the picture."),
    _qa("Look at the picture and answer the question below.\n{question}"),
    _qa("Question: {question}\nAnswer:"),
    _qa("Q: {question}\nA:"),
    _qa("Answer this question about the image: {question}"),
    _qa("Here is a question about what is shown. {question}"),
    _qa("Please look carefully at the image before answering.\n\n{question}"),
    _qa("{question}\nPlease answer based on what you see."),
    _qa("Read the question and respond according to the image.\nQuestion: {question}"),
    _qa("The image goes with this question: {question}"),
    _qa("Can you answer the following question about the image?\n{question}"),
    _qa("I'm curious about something in this picture. {question}"),
    _qa("{question}\nGive an answer grounded in the image.", "Answer: {answer}"),
    _qa("Use the visual content to answer.\n{question}"),
    _qa("Answer the question below. Rely only on the image.\n\n{question}"),
    _qa("Task: answer a question about the image.\nQuestion: {question}"),
    _qa("{question}\nWhat does the image tell you?"),
    _qa("Look closely: {question}"),
    _qa("Help me with this question about the photo: {question}"),
    _qa("{question}\nRespond to the question above using details from the image."),
    _qa("Here's my question. {question}"),
    _qa("Inspect the image, then answer.\n{question}"),
    _qa("Input question: {question}\nOutput answer:"),
    _qa("Given the picture, respond to this question.\n{question}"),
    _qa("{question} Answer by looking at the image."),
    _qa("Someone looking at this image asks: {question}\nHow would you answer?"),
    _qa("Question about the image:\n{question}"),
    _qa("Observe the scene and answer.\n{question}"),
    _qa("{question}\nKeep your answer faithful to the picture.", "Based on the image: {answer}"),
    _qa("Please respond to the question that follows. Base your response on the image.\n{question}"),
    _qa("Answer the question: {question}"),
    _qa("What would you answer here? {question}"),
    _qa("{question}\nThe image holds the answer."),
    _qa("Study the visual and answer the question.\nQ: {question}"),
    _qa("Consider what the image shows.\n\n{question}\n\nAnswer:"),
    _qa("A question about the photo follows.\n{question}"),
    _qa("Answer based on the visual evidence: {question}"),
    _qa("{question}\n(Answer with reference to the image.)"),
    _qa("Quick question about this picture: {question}"),
    _qa("Please help answer this. {question}"),
    _qa("{question}\nAnswer the question."),
    _qa("Examine the image and then respond to this question.\n{question}", "My answer: {answer}"),
    _qa("Question: {question}\nUse the image to find the answer."),
    _qa("Your task is to answer questions about images.\n\nQuestion: {question}"),
    _qa("From looking at the image, how would you answer this? {question}"),
    _qa("{question}\nLook at the image for clues."),
    _qa("Here is the question: {question}\nWhat is the answer?"),
    _qa("Read this question, look at the picture, and answer it.\n{question}"),
    _qa("Respond to the question about the visual content.\n{question}\nResponse:"),
    _qa("Answer the following.\n{question}"),
    _qa("{question}\nWhat is the correct answer according to the image?", "According to the image: {answer}"),
)

_QA_INVERTED: tuple[Template, ...] = (
    _qa_inv("Here is an answer about the image: {answer}\nWhat question does it answer?"),
    _qa_inv("Answer: {answer}\nWrite a question about the image that this answer responds to."),
    _qa_inv("The following is the answer to a question about this picture.\n{answer}\nWhat was the question?"),
    _qa_inv("Given the image and the answer below, come up with the question.\nAnswer: {answer}\nQuestion:"),
    _qa_inv("{answer}\nWhich question about the image would lead to this answer?"),
    _qa_inv(
        "Let's reverse the usual task: I give you an answer, you give me a question about the image that it "
        "answers.\nAnswer: {answer}",
        "Question: {question}",
    ),
    _qa_inv("Write a question about the photo whose answer is the following: {answer}"),
    _qa_inv(
        "Here's a response someone gave about the image: {answer}\nWhat were they asked?",
        "They were asked: {question}",
    ),
    _qa_inv("Generate a question for this image. The answer to your question should be: {answer}"),
    _qa_inv("Think of a question about the picture that has this answer.\n\n{answer}"),
    _qa_inv("A: {answer}\nWhat question about the image goes with this answer?", "Q: {question}"),
    _qa_inv("Looking at the image, what question could be answered with: {answer}"),
)

QA_POOL: tuple[Template, ...] = _QA_DIRECT + _QA_INVERTED

_COT_REASONING_FIRST: tuple[Template, ...] = (
    _cot("{question}", "{reasoning}\nSo the answer is: {answer}"),
    _cot("{question}\nLet's think step by step.", "{reasoning}\nTherefore, the final answer is: {answer}"),
    _cot("Question: {question}\nThink it through, then answer.", "{reasoning}\nThe answer is {answer}"),
    _cot(
        "Look at the image and reason carefully before answering.\n{question}",
        "{reasoning}\nSo, the answer is {answer}",
    ),
    _cot("{question}\nExplain your reasoning first.", "{reasoning}\nHence, the answer: {answer}"),
    _cot(
        "Answer the question about the image. Show your work.\n\n{question}", "{reasoning}\n\nFinal answer: {answer}"
    ),
    _cot("Q: {question}\nA: Let's think about what the image shows.", "{reasoning}\nSo the final answer is {answer}"),
    _cot(
        "{question}\nGive a step-by-step explanation and then the answer.",
        "Step-by-step explanation: {reasoning}\nAnswer: {answer}",
    ),
    _cot(
        "Reason about the visual details to answer this question: {question}",
        "{reasoning}\nThis means the answer is {answer}",
    ),
    _cot("{question}\nWalk me through your thinking.", "Sure. {reasoning}\nThat leads to the answer: {answer}"),
    _cot(
        "Use the image to answer the following question. Explain how you got there.\n{question}",
        "{reasoning}\nThus, the answer is: {answer}",
    ),
    _cot("Question: {question}\nRationale and answer:", "{reasoning}\nThe answer: {answer}"),
    _cot("{question}\nThink carefully about the picture before you respond.", "{reasoning}\nMy answer is {answer}"),
    _cot(
        "Here is a question about the image. {question}\nPlease reason it out.",
        "{reasoning}\nSo my final answer is: {answer}",
    ),
    _cot("{question}\nStream of consciousness:", "{reasoning}\nSo the answer is {answer}"),
    _cot(
        "Look at the picture. {question} Explain before answering.", "{reasoning}\nIn the end, the answer is {answer}"
    ),
    _cot(
        "Consider the following question about the image and answer it step by step.\n{question}",
        "Let's work through it. {reasoning}\nConclusion: {answer}",
    ),
    _cot("{question}\nJustify your answer with what you see.", "{reasoning}\nGiven that, the answer is {answer}"),
    _cot(
        "Carefully examine the image.\n\nQuestion: {question}\n\nShow your reasoning, then answer.",
        "Reasoning: {reasoning}\n\nAnswer: {answer}",
    ),
    _cot("{question}\nFirst describe the relevant evidence, then answer.", "Evidence: {reasoning}\nAnswer: {answer}"),
    _cot("Question: {question}\nLet's reason about this.", "{reasoning}\nTherefore: {answer}"),
    _cot("{question}\nHow do you know? Explain, then give your answer.", "{reasoning}\nSo I would say: {answer}"),
    _cot(
        "I need help with a question about this image. {question} Please explain your answer.",
        "{reasoning}\nBased on this, the answer is {answer}",
    ),
    _cot("{question}\nAnswer with a brief justification.", "{reasoning}\nAnswer: {answer}"),
    _cot(
        "Analyse the image and answer the question below.\n{question}", "Analysis: {reasoning}\nFinal answer: {answer}"
    ),
    _cot("{question}\nThink out loud before answering.", "Thinking out loud: {reasoning}\nSo the answer is: {answer}"),
    _cot("Answer the question by reasoning over the image.\nQ: {question}", "{reasoning}\nA: {answer}"),
    _cot(
        "{question}\nProvide your chain of thought and the answer.", "Chain of thought: {reasoning}\nAnswer: {answer}"
    ),
    _cot("Observe the scene carefully. {question}", "{reasoning}\nAll things considered, the answer is {answer}"),
    _cot(
        "{question}\nWhat is your answer, and why? Start with why.", "{reasoning}\nThat is why the answer is {answer}"
    ),
    _cot("Question: {question}\nExplanation:", "{reasoning}\nAnswer: {answer}"),
    _cot(
        "{question}\nReason step by step, then state the answer clearly.", "{reasoning}\nThe final answer is: {answer}"
    ),
    _cot("Solve this question about the image. Show each step.\n{question}", "{reasoning}\nSolution: {answer}"),
    _cot("{question}\nMake sure to explain your thinking.", "{reasoning}\nSo, to answer the question: {answer}"),
    _cot(
        "Look at the image. Then answer, giving your reasons.\n\n{question}",
        "{reasoning}\nFor these reasons, the answer is {answer}",
    ),
    _cot("{question}\nLet's work this out slowly.", "{reasoning}\nAnd so the answer is {answer}"),
    _cot(
        "Here is a visual question: {question}\nGive a rationale before the answer.",
        "Rationale: {reasoning}\nAnswer: {answer}",
    ),
    _cot("{question}\nExplain what you notice in the image and conclude.", "{reasoning}\nIn conclusion: {answer}"),
    _cot("Given the image, reason about this question: {question}", "{reasoning}\nThe answer, then, is {answer}"),
    _cot("{question}\nBe thorough in your explanation.", "{reasoning}\n\nTherefore, my answer is: {answer}"),
    _cot(
        "Think about the image step by step to answer this.\nQuestion: {question}",
        "{reasoning}\nSo the answer must be {answer}",
    ),
    _cot("{question}\nDetailed answer:", "{reasoning}\nIn short: {answer}"),
    _cot("Please answer the question and include your reasoning.\n{question}", "{reasoning}\nShort answer: {answer}"),
    _cot("{question}\nUse evidence from the picture.", "{reasoning}\nThis points to the answer: {answer}"),
    _cot(
        "Describe your reasoning, then answer.\nQuestion: {question}", "My reasoning: {reasoning}\nMy answer: {answer}"
    ),
    _cot("{question}\nLet's look at the picture closely.", "Looking closely: {reasoning}\nSo the answer is {answer}"),
    _cot(
        "Answer the following question with an explanation.\n\n{question}",
        "Explanation: {reasoning}\n\nAnswer: {answer}",
    ),
    _cot("{question}\nThink first, answer second.", "{reasoning}\nNow the answer: {answer}"),
    _cot(
        "Question about the image: {question}\nLet's think.",
        "{reasoning}\nWe can conclude that the answer is {answer}",
    ),
    _cot("{question}\nGive your reasoning and finish with the final answer.", "{reasoning}\nFinal answer: {answer}"),
    _cot(
        "What is the answer to this question, based on the image? Explain.\n{question}",
        "{reasoning}\nAccordingly, the answer is {answer}",
    ),
    _cot("{question}\nReason through the visual clues.", "The visual clues: {reasoning}\nSo the answer is: {answer}"),
    _cot(
        "Study the picture and work out the answer.\n{question}",
        "{reasoning}\nWorking this out, the answer is {answer}",
    ),
    _cot("{question}\nWhy? Explain, then answer.", "{reasoning}\nThus the answer is {answer}"),
    _cot("Take a close look at the image. {question}\nExplain your answer.", "{reasoning}\nMy answer: {answer}"),
    _cot(
        "{question}\nIt helps to reason about the image first.",
        "{reasoning}\nWith that in mind, the answer is {answer}",
    ),
    _cot(
        "Here is a question. {question}\nAnswer it with reasoning grounded in the image.",
        "{reasoning}\nThe answer is: {answer}",
    ),
    _cot("{question}\nPlease think step by step.", "{reasoning}\nSo, the final answer: {answer}"),
    _cot(
        "Respond to the question about the photo, explaining your logic.\n{question}",
        "Logic: {reasoning}\nResponse: {answer}",
    ),
    _cot("{question}\nBreak it down before answering.", "Breaking it down: {reasoning}\nAnswer: {answer}"),
    _cot(
        "Inspect the image and answer with an explanation.\nQ: {question}\nA:",
        "{reasoning}\nSo the answer is {answer}",
    ),
    _cot("{question}\nWhat leads you to your answer?", "{reasoning}\nThis leads me to the answer: {answer}"),
    _cot(
        "Let's answer a question about the image.\n{question}\nFirst, the reasoning.",
        "{reasoning}\nAnd the answer: {answer}",
    ),
    _cot("{question}\nOutline your thought process.", "Thought process: {reasoning}\nAnswer: {answer}"),
    _cot("Answer using careful visual reasoning: {question}", "{reasoning}\nHence the answer is {answer}"),
    _cot("{question}\nSupport your answer with observations.", "Observations: {reasoning}\nAnswer: {answer}"),
    _cot("Question: {question}\nStep-by-step reasoning:", "{reasoning}\nSo the answer is: {answer}"),
    _cot(
        "{question}\nExplain it as you would to a friend, then answer.",
        "{reasoning}\nSo basically, the answer is {answer}",
    ),
    _cot(
        "Read the question, study the image, and reason your way to the answer.\n{question}",
        "{reasoning}\nThe answer I reach is {answer}",
    ),
    _cot("{question}\nGive me the reasoning, then the answer.", "Reasoning: {reasoning}\nThe answer: {answer}"),
    _cot(
        "Based on what is shown, answer the question below and explain how you decided.\n\n{question}",
        "{reasoning}\nDecision: {answer}",
    ),
    _cot(
        "{question}\nConsider all the details in the image.",
        "{reasoning}\nTaking all of this into account, the answer is {answer}",
    ),
    _cot(
        "My question is about the photo. {question}\nCan you explain the answer?",
        "{reasoning}\nSo the answer would be {answer}",
    ),
    _cot("{question}\nShow the reasoning that leads to your answer.", "{reasoning}\nWhich leads to: {answer}"),
    _cot("Answer step by step.\n{question}", "{reasoning}\nSo: {answer}"),
    _cot("{question}\nExplain and answer.", "{reasoning}\nAnswer: {answer}"),
    _cot(
        "Use the image to reason about the question, then answer it.\nQuestion: {question}\nAnswer:",
        "{reasoning}\nSo the answer is {answer}",
    ),
    _cot("{question}\nWhat can you infer from the image? Then answer.", "Inference: {reasoning}\nAnswer: {answer}"),
    _cot("Look at the image and tell me: {question}\nInclude your reasoning.", "{reasoning}\nSo, my answer: {answer}"),
)

_COT_ANSWER_FIRST: tuple[Template, ...] = (
    _cot_af("{question}\nAnswer first, then explain.", "{answer}\n\nExplanation: {reasoning}"),
    _cot_af(
        "Question: {question}\nGive the answer, followed by your reasoning.",
        "Answer: {answer}\nReasoning: {reasoning}",
    ),
    _cot_af("{question}\nState your answer and then justify it.", "{answer}\nJustification: {reasoning}"),
    _cot_af("Look at the image and answer directly, then explain.\n{question}", "{answer}\nHere is why. {reasoning}"),
    _cot_af(
        "{question}\nLead with the answer, then the evidence.",
        "Answer: {answer}\nEvidence from the image: {reasoning}",
    ),
    _cot_af("Answer this question about the picture and explain why.\n\n{question}", "{answer}\nWhy: {reasoning}"),
    _cot_af("{question}\nWhat is the answer? Explain afterwards.", "The answer is {answer}\nExplanation: {reasoning}"),
    _cot_af("Q: {question}\nGive a short answer and a rationale.", "Short answer: {answer}\nRationale: {reasoning}"),
    _cot_af("{question}\nBe direct, then elaborate.", "{answer}\n\nTo elaborate: {reasoning}"),
    _cot_af(
        "Answer the question below. Put the answer first and the explanation after.\n{question}",
        "{answer}\nBecause: {reasoning}",
    ),
    _cot_af(
        "{question}\nGive the answer with a supporting explanation.",
        "{answer}\nSupporting explanation: {reasoning}",
    ),
    _cot_af(
        "Based on the image, what is the answer to this question? Afterwards, tell me how you know.\n{question}",
        "{answer}\nHow I know: {reasoning}",
    ),
)

_COT_RATIONALE: tuple[Template, ...] = (
    _cot_inv("Question: {question}\nAnswer: {answer}\nExplain why this answer is correct.", "{reasoning}"),
    _cot_inv("{question}\nThe answer is {answer}\nWhy?", "{reasoning}"),
    _cot_inv(
        "Here is a question about the image: {question}\n"
        "The correct answer is: {answer}\nGive the reasoning behind it.",
        "{reasoning}",
    ),
    _cot_inv(
        "Look at the image. {question}\nSomeone answered: {answer}\nExplain how they arrived at this answer.",
        "{reasoning}",
    ),
    _cot_inv(
        "Justify the answer using the image.\nQuestion: {question}\nAnswer: {answer}", "Justification: {reasoning}"
    ),
    _cot_inv("{question}\nAnswer: {answer}\nWhat in the image supports this answer?", "{reasoning}"),
    _cot_inv(
        "Given the question and its answer, write the rationale.\n"
        "\nQuestion: {question}\nAnswer: {answer}\nRationale:",
        "{reasoning}",
    ),
    _cot_inv("Q: {question}\nA: {answer}\nExplain the answer.", "{reasoning}"),
    _cot_inv(
        "Explain, step by step, why the answer to the question is correct.\n{question}\nAnswer: {answer}",
        "{reasoning}",
    ),
    _cot_inv(
        "{question}\nI was told the answer is {answer}\nCan you explain why, based on the image?",
        "Sure. {reasoning}",
    ),
    _cot_inv(
        "Write a step-by-step explanation for this question and answer pair about the image.\n"
        "Question: {question}\nAnswer: {answer}",
        "{reasoning}",
    ),
    _cot_inv("Answer: {answer}\nQuestion: {question}\nWhy is this the answer?", "{reasoning}"),
    _cot_inv(
        "Here is a question with its answer. Provide the chain of thought that connects them.\n"
        "{question}\nAnswer: {answer}",
        "Chain of thought: {reasoning}",
    ),
    _cot_inv("{question}\nThe answer given is: {answer}\nDescribe the visual evidence for it.", "{reasoning}"),
    _cot_inv(
        "Consider the image and this question: {question}\nAnswer: {answer}\nWhat reasoning leads to this answer?",
        "{reasoning}",
    ),
    _cot_inv("Teacher: {question}\nStudent: {answer}\nTeacher: Good. Can you explain why?", "Student: {reasoning}"),
    _cot_inv("{question}\nCorrect answer: {answer}\nGive a rationale.", "Rationale: {reasoning}"),
    _cot_inv(
        "Explain the answer to a question about this image.\n"
        "\nQuestion: {question}\n\nAnswer: {answer}\n\nExplanation:",
        "{reasoning}",
    ),
    _cot_inv(
        "The question is: {question}\nI know the answer is {answer}\nBut why? Please explain using the image.",
        "{reasoning}",
    ),
    _cot_inv(
        "Provide a justification for the answer below, based on the picture.\nQ: {question}\nA: {answer}",
        "{reasoning}",
    ),
    _cot_inv("{question}\nAnswer: {answer}\nReasoning:", "{reasoning}"),
    _cot_inv(
        "Given this image, question, and answer, explain the reasoning step by step.\n"
        "Question: {question}\nAnswer: {answer}",
        "Step by step: {reasoning}",
    ),
    _cot_inv(
        "Here is the answer: {answer}\nAnd here is the question: {question}\n"
        "Explain how the image leads from the question to the answer.",
        "{reasoning}",
    ),
    _cot_inv("Question: {question}\nThe answer is {answer}\nWhat details in the image justify it?", "{reasoning}"),
    _cot_inv("Reconstruct the reasoning.\nQuestion: {question}\nFinal answer: {answer}", "{reasoning}"),
    _cot_inv("{question}\nThe right answer is {answer}\nShow the thinking behind it.", "{reasoning}"),
    _cot_inv(
        "Look at the picture and explain why the answer to the question is as given.\n"
        "{question}\nGiven answer: {answer}",
        "{reasoning}",
    ),
    _cot_inv("Question: {question}\nAnswer: {answer}\nHow can you tell from the image?", "{reasoning}"),
    _cot_inv(
        "Write an explanation that supports this answer.\n\nAnswer: {answer}\n\nQuestion: {question}",
        "{reasoning}",
    ),
    _cot_inv("{question}\nIt turns out the answer is {answer}\nWhat is the reasoning?", "{reasoning}"),
    _cot_inv("Explain the rationale for the answer.\nQ: {question}\nA: {answer}\nRationale:", "{reasoning}"),
    _cot_inv(
        "A question about the image: {question}\nIts answer: {answer}\nWalk through why this is right.",
        "{reasoning}",
    ),
    _cot_inv("{question}\nAnswer: {answer}\nExplain this answer in detail.", "{reasoning}"),
    _cot_inv(
        "Help a student understand the answer to this question about the image.\n"
        "Question: {question}\nAnswer: {answer}",
        "Here is the reasoning. {reasoning}",
    ),
    _cot_inv(
        "Question: {question}\nProposed answer: {answer}\nExplain, using the image, why the proposed answer is right.",
        "{reasoning}",
    ),
)

_COT_QUESTION: tuple[Template, ...] = (
    _cot_inv("Reasoning: {reasoning}\nAnswer: {answer}\nWhat was the question?", "{question}"),
    _cot_inv("{reasoning}\nSo the answer is {answer}\nWhat question about the image is being answered?", "{question}"),
    _cot_inv(
        "Here is a rationale and an answer about the image. Write the question they answer.\n"
        "Rationale: {reasoning}\nAnswer: {answer}",
        "Question: {question}",
    ),
    _cot_inv(
        "Given the explanation and the final answer below, come up with the question.\n\n"
        "Explanation: {reasoning}\nFinal answer: {answer}",
        "{question}",
    ),
    _cot_inv("Reverse engineer the question.\nChain of thought: {reasoning}\nAnswer: {answer}", "{question}"),
    _cot_inv(
        "Stream of consciousness: {reasoning}\nThe answer: {answer}\nWhat was the question?",
        "The question was: {question}",
    ),
    _cot_inv(
        "Someone looked at this image and reasoned: {reasoning}\nThey concluded: {answer}\nWhat were they asked?",
        "{question}",
    ),
    _cot_inv("Answer: {answer}\nExplanation: {reasoning}\nWrite the question about the image.", "{question}"),
    _cot_inv("{reasoning}\nTherefore: {answer}\nWhich question does this reasoning answer?", "{question}"),
    _cot_inv(
        "Think of the question that goes with this reasoning and answer.\n"
        "Reasoning: {reasoning}\nAnswer: {answer}\nQuestion:",
        "{question}",
    ),
    _cot_inv(
        "Write a question about the picture for which the following is a good explanation and answer.\n"
        "{reasoning}\nAnswer: {answer}",
        "{question}",
    ),
    _cot_inv(
        "Explanation: {reasoning}\nFinal answer: {answer}\nWhat question was asked about the image?",
        "{question}",
    ),
    _cot_inv(
        "Below is a step-by-step solution to a question about the image.\n"
        "{reasoning}\nAnswer: {answer}\nWhat is the question?",
        "{question}",
    ),
    _cot_inv("Rationale: {reasoning}\nAnswer: {answer}\nInfer the question.", "{question}"),
    _cot_inv(
        "Given this reasoning about the image: {reasoning}\nAnd this answer: {answer}\nWhat was the question?",
        "{question}",
    ),
    _cot_inv(
        "Work backwards from the reasoning and answer to the original question.\n\n"
        "Reasoning: {reasoning}\nAnswer: {answer}",
        "Original question: {question}",
    ),
    _cot_inv(
        "Here is how someone answered a question about the image. {reasoning}\n"
        "Their final answer: {answer}\nWhat was the question?",
        "{question}",
    ),
    _cot_inv(
        "The answer is {answer}\nThe reasoning is: {reasoning}\nWhat question were they answering?",
        "{question}",
    ),
    _cot_inv(
        "What question about this image would have the following explanation and answer?\n"
        "Explanation: {reasoning}\nAnswer: {answer}",
        "{question}",
    ),
    _cot_inv("{reasoning}\nThe final answer is {answer}\nReconstruct the question.", "{question}"),
    _cot_inv(
        "Produce the question that this chain of thought and answer address.\n{reasoning}\nAnswer: {answer}",
        "{question}",
    ),
    _cot_inv("Justification: {reasoning}\nAnswer: {answer}\nQuestion:", "{question}"),
    _cot_inv(
        "Look at the image. The following reasoning leads to the answer below.\n"
        "{reasoning}\nAnswer: {answer}\nWhat question was being answered?",
        "It answers the question: {question}",
    ),
    _cot_inv("Step-by-step reasoning: {reasoning}\nConclusion: {answer}\nState the question.", "{question}"),
    _cot_inv(
        "I reasoned about the picture like this: {reasoning}\n"
        "My answer was: {answer}\nGuess the question I was asked.",
        "You were asked: {question}",
    ),
    _cot_inv(
        "Create the question for this explanation and answer about the image.\n"
        "Explanation: {reasoning}\nAnswer: {answer}",
        "{question}",
    ),
    _cot_inv("{reasoning}\nHence the answer: {answer}\nWhat question led to this?", "{question}"),
    _cot_inv(
        "Reasoning and answer are given. Supply the missing question.\nReasoning: {reasoning}\nAnswer: {answer}",
        "Missing question: {question}",
    ),
    _cot_inv("Answer: {answer}\nWhy: {reasoning}\nWhat was asked?", "{question}"),
    _cot_inv(
        "Evidence from the image: {reasoning}\nResulting answer: {answer}\nWhat is the most likely question?",
        "{question}",
    ),
    _cot_inv(
        "Figure out the question from the answer and its explanation.\n\nAnswer: {answer}\n\nExplanation: {reasoning}",
        "{question}",
    ),
    _cot_inv(
        "The following explanation and answer respond to a question about the image. {reasoning}\n"
        "So the answer is {answer}\nWrite that question.",
        "{question}",
    ),
    _cot_inv("Here is a rationale: {reasoning}\nAnd here is the answer: {answer}\nWhat question fits?", "{question}"),
    _cot_inv(
        "Given the image, the thought process below ends in the answer shown. Identify the question.\n"
        "Thought process: {reasoning}\nAnswer: {answer}",
        "Question: {question}",
    ),
)

COT_POOL: tuple[Template, ...] = _COT_REASONING_FIRST + _COT_ANSWER_FIRST + _COT_RATIONALE + _COT_QUESTION


def _check_pool(pool: tuple[Template, ...], name: str) -> None:
    pairs = [(t.user, t.assistant) for t in pool]
    if len(set(pairs)) != len(pairs):
        raise ValueError(f"duplicate template in {name}")
    users = [t.user for t in pool]
    if len(set(users)) != len(users):
        raise ValueError(f"duplicate user text in {name}")


_check_pool(QA_POOL, "QA_POOL")
_check_pool(COT_POOL, "COT_POOL")
