"""The risk questionnaire: five short questions, each option worth 0-2 points; the sum gives
low, medium or high risk, and a change that cannot be backed out is always high."""

from __future__ import annotations

from servicedesk.changes.choices import Risk

#: question -> its options in order of risk (the index is the option's points).
QUESTIONS: dict[str, tuple[str, ...]] = {
    "reach": ("one_unit", "one_kommune", "several_kommuner"),
    "downtime": ("none", "short", "long"),
    "tested": ("yes", "partly", "no"),
    "backout": ("simple", "complex", "impossible"),
    "experience": ("routine", "done_before", "first_time"),
}
MEDIUM_FROM = 3
HIGH_FROM = 6


def validate(answers: dict[str, str]) -> list[tuple[str, str]]:
    """Problems with ``answers`` as (question, message); every question must be answered."""
    problems = []
    for question, options in QUESTIONS.items():
        given = answers.get(question)
        if given is None:
            problems.append((question, "must be answered"))
        elif given not in options:
            problems.append((question, f"must be one of {', '.join(options)}"))
    problems += [
        (q, "is no question of the risk assessment") for q in answers if q not in QUESTIONS
    ]
    return problems


def score(answers: dict[str, str]) -> int:
    return sum(QUESTIONS[q].index(a) for q, a in answers.items() if q in QUESTIONS)


def assess(answers: dict[str, str]) -> Risk:
    """The risk level of complete, valid ``answers``."""
    if answers.get("backout") == "impossible":
        return Risk.HIGH
    points = score(answers)
    if points >= HIGH_FROM:
        return Risk.HIGH
    return Risk.MEDIUM if points >= MEDIUM_FROM else Risk.LOW
