"""Sentences generated from checked comparisons, so a notebook's prose cannot contradict its own
numbers (introduced in 01; used by every notebook).

Every judgement word ("beats", "no measurable difference", "similar", "near", "agrees") is chosen
by a comparison of the numbers it is about, with the noise margin where one exists (the spread
across seeds, or the standard error of an accuracy measured on n test images). Each function
returns a ``Statement``: the Markdown sentence and a ``verdict`` record (kind, the named numbers,
the rule, the outcome) that ``NotebookRun.verdict`` stores in the metrics file under the item
code. ``tests/test_statements.py`` re-derives every recorded outcome from its recorded numbers.

    s = compare("AE-pretrained", 0.81, "scratch", 0.79, spread=(0.02, "spread across 5 seeds"), fmt="{:.1%}")
    s.text     # 'AE-pretrained and scratch are within the spread across 5 seeds ...: no measurable difference'
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

HIGHER, LOWER, NEUTRAL = "higher", "lower", "neither"
SAME = "no measurable difference"


@dataclass(frozen=True)
class Statement:
    """A generated sentence and the structured verdict it was chosen by."""

    key: str
    text: str
    verdict: dict[str, Any] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        """The outcome word of the verdict (``'a'``, ``'b'``, ``'same'``, ``'similar'``, ...)."""
        return self.verdict["outcome"]

    def __str__(self) -> str:
        return self.text


def _check_better(better: str, neutral: bool = False) -> None:
    allowed = (HIGHER, LOWER, NEUTRAL) if neutral else (HIGHER, LOWER)
    if better not in allowed:
        raise ValueError(f"better={better!r}: say which direction is better, one of {', '.join(allowed)}")


def _finite(**values: float) -> None:
    for name, value in values.items():
        if value is None or not math.isfinite(float(value)):
            raise ValueError(f"{name} is {value!r}: a statement needs finite numbers (check the run that made it)")


def standard_error(accuracy: float, n: int) -> float:
    """Binomial standard error of an accuracy measured on ``n`` test images (the noise of one run)."""
    if n <= 0:
        raise ValueError(f"n={n}: an accuracy's standard error needs the number of test images (> 0)")
    return math.sqrt(max(accuracy * (1 - accuracy), 0.0) / n)


def difference_standard_error(a: float, n_a: int, b: float, n_b: int | None = None) -> float:
    """Standard error of the difference of two accuracies measured on independent test sets of
    ``n_a`` and ``n_b`` images (``n_b`` defaults to ``n_a``): ``sqrt(a(1-a)/n_a + b(1-b)/n_b)``.

    On the same images, :func:`paired_standard_error` is tighter (it removes what both models get
    right or wrong together); this is the margin when only the two accuracies are known.
    """
    n_b = n_a if n_b is None else n_b
    return math.hypot(standard_error(a, n_a), standard_error(b, n_b))


def paired_standard_error(correct_a, correct_b) -> float:
    """Standard error of the difference of two accuracies on the *same* test images, from the
    per-image right/wrong of each model (the paired test behind McNemar's): with ``n`` images,
    ``a_only`` images only A gets right and ``b_only`` only B, it is
    ``sqrt((a_only + b_only) / n**2 - (a_only - b_only)**2 / n**3)``, the standard deviation of the
    per-image difference over ``sqrt(n)``.
    """
    a_only, b_only, n = discordant_counts(correct_a, correct_b)
    return _paired_se(a_only, b_only, n)


def _paired_se(a_only: int, b_only: int, n: int) -> float:
    if n <= 0:
        raise ValueError("a paired standard error needs at least one test image")
    return math.sqrt(max((a_only + b_only) / n**2 - (a_only - b_only) ** 2 / n**3, 0.0))


def discordant_counts(correct_a, correct_b) -> tuple[int, int, int]:
    """``(a_only, b_only, n)``: images only A classifies right, only B, and how many images in all."""
    import numpy as np

    a, b = np.asarray(correct_a, dtype=bool).ravel(), np.asarray(correct_b, dtype=bool).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired comparison needs both models' results on the same images: got {a.size} and {b.size}")
    return int((a & ~b).sum()), int((~a & b).sum()), int(a.size)


def seed_differences(a_per_seed, b_per_seed) -> tuple[float, float, int]:
    """``(mean, standard error, k)`` of the per-seed differences ``a - b`` of a comparison run on the
    same ``k`` seeds: the margin of a comparison across seeds (the seed-to-seed spread of each side
    would count the seeds' shared luck twice)."""
    import numpy as np

    a, b = np.asarray(a_per_seed, dtype=float), np.asarray(b_per_seed, dtype=float)
    if a.shape != b.shape or a.size < 2:
        raise ValueError(f"per-seed differences need the same >= 2 seeds on both sides: got {a.size} and {b.size}")
    d = a - b
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(d.size)), int(d.size)


def compare_accuracies(
    a_name: str,
    correct_a,
    b_name: str,
    correct_b,
    factor: float = 2.0,
    fmt: str = "{:.2f}%",
    diff_fmt: str = "{:.2f} points",
    key: str | None = None,
) -> Statement:
    """Two classifiers' accuracies on the same test images (per-image right/wrong, booleans), judged
    against ``factor`` x the paired standard error of their difference (:func:`paired_standard_error`).

    Accuracies are reported in percent; the verdict records the discordant counts, so the margin can be
    re-derived from the metrics file alone.
    """
    a_only, b_only, n = discordant_counts(correct_a, correct_b)
    import numpy as np

    acc_a, acc_b = 100 * float(np.mean(correct_a)), 100 * float(np.mean(correct_b))
    se = 100 * _paired_se(a_only, b_only, n)
    statement = compare(
        a_name,
        acc_a,
        b_name,
        acc_b,
        spread=(se, f"standard error of the paired difference on {n} test images"),
        factor=factor,
        fmt=fmt,
        diff_fmt=diff_fmt,
        key=key,
    )
    statement.verdict["noise"] = {"kind": "paired", "a_only": a_only, "b_only": b_only, "n": n, "scale": 100}
    return statement


def best_of_accuracies(
    correct: Mapping[str, Any],
    factor: float = 2.0,
    fmt: str = "{:.2f}%",
    diff_fmt: str = "{:.2f} points",
    what: str = "test accuracy",
    key: str | None = None,
) -> Statement:
    """The most accurate of several classifiers on the same test images (name -> per-image right/wrong):
    "clear" only when it leads the runner-up by more than ``factor`` x the paired standard error of
    *their* difference."""
    import numpy as np

    accs = {name: 100 * float(np.mean(c)) for name, c in correct.items()}
    ranked = sorted(accs, key=accs.get, reverse=True)
    a_only, b_only, n = discordant_counts(correct[ranked[0]], correct[ranked[1]])
    se = 100 * _paired_se(a_only, b_only, n)
    label = f"standard error of the paired difference between the top two on {n} test images"
    statement = best_of(accs, spread=(se, label), factor=factor, fmt=fmt, diff_fmt=diff_fmt, what=what, key=key)
    statement.verdict["noise"] = {"kind": "paired", "a_only": a_only, "b_only": b_only, "n": n, "scale": 100}
    return statement


def reading(base: Statement, texts: Mapping[str, str], key: str) -> Statement:
    """An interpretive sentence chosen by another statement's outcome (``texts[base.outcome]``), so a
    reading of a figure or a table ("so capacity and design are confounded") is derived from a
    measured comparison, never typed beside it. Every outcome ``base`` can have needs its text."""
    if base.outcome not in texts:
        raise ValueError(f"reading {key!r} has no text for the outcome {base.outcome!r} (has {sorted(texts)})")
    verdict = {
        "kind": "reading",
        "base": {**base.verdict, "sentence": base.text},
        "texts": dict(texts),
        "outcome": base.outcome,
    }
    return Statement(key, texts[base.outcome], verdict)


def compare(
    a_name: str,
    a: float,
    b_name: str,
    b: float,
    better: str = HIGHER,
    spread: tuple[float, str] | None = None,
    factor: float = 2.0,
    fmt: str = "{:.3g}",
    diff_fmt: str | None = None,
    exact: bool = False,
    key: str | None = None,
) -> Statement:
    """Which of two numbers is better, judged against ``factor`` x the noise ``spread`` = (value, what it is).

    Without a spread the difference is reported as measured in one run ("single run, no noise estimate").
    ``better="neither"`` compares sizes without a judgement ("A exceeds B by ..."); ``exact=True`` marks
    numbers that no run can change (a layer's size, a closed-form cost), which need no noise estimate.
    """
    _check_better(better, neutral=True)
    _finite(**{a_name: a, b_name: b})
    diff_fmt = diff_fmt or fmt
    gain = (b - a) if better == LOWER else (a - b)  # > 0: a is better (or larger, when neutral)
    margin = factor * spread[0] if spread else 0.0
    if spread and spread[0] < 0:
        raise ValueError(f"spread {spread[0]!r} is negative: pass a standard deviation or standard error")
    outcome = "same" if abs(gain) <= margin else ("a" if gain > 0 else "b")
    values = f"{a_name} {fmt.format(a)}, {b_name} {fmt.format(b)}"
    if outcome == "same" and not spread:  # equal numbers, no noise estimate needed to say so
        text = f"{a_name} and {b_name} are equal ({values}): {SAME}"
    elif outcome == "same":
        text = (
            f"{a_name} and {b_name} differ by {diff_fmt.format(abs(a - b))} ({values}), within "
            f"{factor:g}× the {spread[1]} ({diff_fmt.format(spread[0])}): {SAME}"
        )
    else:
        winner, loser = (a_name, b_name) if outcome == "a" else (b_name, a_name)
        if better == NEUTRAL:
            text = f"{winner} exceeds {loser} by {diff_fmt.format(abs(a - b))} ({values})"
        else:
            text = f"{winner} beats {loser} by {diff_fmt.format(abs(a - b))} ({values}; {better} is better)"
        if spread:
            text += f", more than {factor:g}× the {spread[1]} ({diff_fmt.format(spread[0])})"
        elif not exact:
            text += ", a single run without a noise estimate"
    verdict = {
        "kind": "compare",
        "a": {"name": a_name, "value": float(a)},
        "b": {"name": b_name, "value": float(b)},
        "better": better,
        "spread": float(spread[0]) if spread else None,
        "spread_label": spread[1] if spread else None,
        "factor": factor,
        "outcome": outcome,
    }
    return Statement(key or "compare", text, verdict)


def best_of(
    values: Mapping[str, float],
    better: str = HIGHER,
    spread: tuple[float, str] | None = None,
    factor: float = 2.0,
    fmt: str = "{:.3g}",
    what: str = "",
    diff_fmt: str | None = None,
    key: str | None = None,
) -> Statement:
    """The best of several named numbers, and whether it leads the runner-up by more than the noise."""
    _check_better(better)
    diff_fmt = diff_fmt or fmt
    if len(values) < 2:
        raise ValueError(f"best_of needs at least two values to rank, got {list(values)}")
    _finite(**values)
    ranked = sorted(values, key=lambda n: values[n], reverse=better == HIGHER)
    first, second = ranked[0], ranked[1]
    lead = abs(values[first] - values[second])
    margin = factor * spread[0] if spread else 0.0
    outcome = "clear" if lead > margin else "tied"
    listing = ", ".join(f"{n} {fmt.format(values[n])}" for n in ranked)
    what = f" {what}" if what else ""
    if outcome == "clear":
        text = f"{first} has the best{what} ({listing}; {better} is better)"
        text += (
            f", leading {second} by {diff_fmt.format(lead)}, more than {factor:g}× the {spread[1]}"
            if spread
            else f", leading {second} by {diff_fmt.format(lead)} in a single run without a noise estimate"
        )
    else:
        text = (
            f"{first} and {second} share the best{what} ({listing}): their gap of {diff_fmt.format(lead)} is "
            f"within {factor:g}× the {spread[1]} ({diff_fmt.format(spread[0])}), {SAME}"
        )
    verdict = {
        "kind": "best_of",
        "values": {n: float(v) for n, v in values.items()},
        "better": better,
        "spread": float(spread[0]) if spread else None,
        "spread_label": spread[1] if spread else None,
        "factor": factor,
        "best": first,
        "runner_up": second,
        "outcome": outcome,
    }
    return Statement(key or "best_of", text, verdict)


def similar(
    values: Mapping[str, float], what: str, max_ratio: float = 1.5, fmt: str = "{:,.0f}", key: str | None = None
) -> Statement:
    """Whether positive numbers are similar (largest / smallest <= ``max_ratio``) or differ by a factor."""
    _finite(**values)
    values = {n: float(v) for n, v in values.items()}  # as recorded, so recheck() sees the same numbers
    if min(values.values()) <= 0:
        raise ValueError(f"similar() compares positive numbers by their ratio; got {dict(values)}")
    ratio = max(values.values()) / min(values.values())
    outcome = "similar" if max(values.values()) <= max_ratio * min(values.values()) else "different"  # = recheck
    listing = ", ".join(f"{n} {fmt.format(v)}" for n, v in values.items())
    if outcome == "similar":
        text = f"the {what} are similar ({listing}: at most {ratio:.2f}× apart, within {max_ratio:g}×)"
    else:
        text = f"the {what} are not similar ({listing}): the largest is {ratio:.1f}× the smallest"
    verdict = {
        "kind": "similar",
        "values": {n: float(v) for n, v in values.items()},
        "max_ratio": max_ratio,
        "ratio": ratio,
        "outcome": outcome,
    }
    return Statement(key or "similar", text, verdict)


def near(
    name: str,
    value: float,
    reference_name: str,
    reference: float,
    rel_tol: float = 0.1,
    fmt: str = "{:.3g}",
    key: str | None = None,
) -> Statement:
    """Whether ``value`` lies within ``rel_tol`` (relative) of a reference such as a trivial baseline."""
    _finite(**{name: value, reference_name: reference})
    if reference == 0:
        raise ValueError(f"{reference_name} is 0: near() needs a non-zero reference for a relative tolerance")
    gap = abs(value - reference) / abs(reference)
    outcome = "near" if gap <= rel_tol else "far"
    pair = f"{name} {fmt.format(value)}, {reference_name} {fmt.format(reference)}"
    text = (
        f"{name} is near {reference_name} ({pair}: {gap:.0%} apart, within {rel_tol:.0%})"
        if outcome == "near"
        else f"{name} is well away from {reference_name} ({pair}: {gap:.0%} apart, more than {rel_tol:.0%})"
    )
    verdict = {
        "kind": "near",
        "value": {"name": name, "value": float(value)},
        "reference": {"name": reference_name, "value": float(reference)},
        "rel_tol": rel_tol,
        "outcome": outcome,
    }
    return Statement(key or "near", text, verdict)


def agrees(name: str, error: float, tolerance: float, key: str | None = None) -> Statement:
    """A numerical check: ``error`` (a max abs difference) against a stated ``tolerance``."""
    _finite(**{name: error})
    outcome = "agrees" if error <= tolerance else "disagrees"
    text = (
        f"{name}: agrees (max difference {error:.1e} ≤ tolerance {tolerance:.0e})"
        if outcome == "agrees"
        else f"{name}: does not agree (max difference {error:.1e} > tolerance {tolerance:.0e})"
    )
    verdict = {"kind": "agrees", "error": float(error), "tolerance": tolerance, "outcome": outcome}
    return Statement(key or "agrees", text, verdict)


def meets(
    name: str,
    value: float,
    goal_name: str,
    goal: float,
    better: str = LOWER,
    fmt: str = "{:.3g}",
    key: str | None = None,
) -> Statement:
    """Whether ``value`` meets a stated goal (at most ``goal`` when lower is better, at least when higher)."""
    _check_better(better)
    _finite(**{name: value, goal_name: goal})
    ok = value <= goal if better == LOWER else value >= goal
    outcome = "meets" if ok else "misses"
    bound = "≤" if better == LOWER else "≥"
    text = (
        f"{name} meets {goal_name} ({fmt.format(value)} {bound} {fmt.format(goal)})"
        if ok
        else f"{name} misses {goal_name} ({fmt.format(value)}, goal {bound} {fmt.format(goal)})"
    )
    verdict = {
        "kind": "meets",
        "value": {"name": name, "value": float(value)},
        "goal": {"name": goal_name, "value": float(goal)},
        "better": better,
        "outcome": outcome,
    }
    return Statement(key or "meets", text, verdict)


def sentence_matches(verdict: Mapping[str, Any], sentence: str) -> bool:
    """Whether a sentence says what its verdict's outcome says (the judgement words), for tests."""
    kind, outcome = verdict["kind"], verdict["outcome"]
    if kind == "reading":
        return sentence == verdict["texts"][outcome] and sentence_matches(verdict["base"], verdict["base"]["sentence"])
    if kind == "compare":
        a, b = verdict["a"]["name"], verdict["b"]["name"]
        verb = "exceeds" if verdict["better"] == NEUTRAL else "beats"
        if outcome == "same":
            return SAME in sentence and f" {verb} " not in sentence.split("(")[0]
        winner, loser = (a, b) if outcome == "a" else (b, a)
        return sentence.startswith(f"{winner} {verb} {loser}") and SAME not in sentence
    phrases = {
        ("best_of", "clear"): f"{verdict.get('best')} has the best",
        ("best_of", "tied"): "share the best",
        ("similar", "similar"): "are similar",
        ("similar", "different"): "are not similar",
        ("near", "near"): " is near ",
        ("near", "far"): " is well away from ",
        ("meets", "meets"): " meets ",
        ("meets", "misses"): " misses ",
        ("agrees", "agrees"): ": agrees",
        ("agrees", "disagrees"): ": does not agree",
    }
    return phrases[(kind, outcome)] in sentence


def recorded_margin(verdict: Mapping[str, Any]) -> float:
    """The noise margin of a compare/best_of verdict, re-derived from its record: ``factor`` x the
    spread, where a paired comparison's spread is computed again from its discordant counts (tests)."""
    noise = verdict.get("noise")
    spread = verdict["spread"] or 0.0
    if noise and noise.get("kind") == "paired":
        spread = noise["scale"] * _paired_se(noise["a_only"], noise["b_only"], noise["n"])
    return verdict["factor"] * spread


def recheck(verdict: Mapping[str, Any]) -> str:
    """The outcome the recorded numbers imply, derived again from the record alone (tests)."""
    kind = verdict["kind"]
    if kind == "compare":
        a, b = verdict["a"]["value"], verdict["b"]["value"]
        gain = b - a if verdict["better"] == LOWER else a - b
        margin = recorded_margin(verdict)
        return "same" if abs(gain) <= margin else ("a" if gain > 0 else "b")
    if kind == "best_of":
        v = verdict["values"]
        order = sorted(v.values(), reverse=verdict["better"] == HIGHER)
        return "clear" if abs(order[0] - order[1]) > recorded_margin(verdict) else "tied"
    if kind == "reading":
        return recheck(verdict["base"])
    if kind == "similar":
        v = verdict["values"].values()
        return "similar" if max(v) <= verdict["max_ratio"] * min(v) else "different"
    if kind == "near":
        value, ref = verdict["value"]["value"], verdict["reference"]["value"]
        return "near" if abs(value - ref) <= verdict["rel_tol"] * abs(ref) else "far"
    if kind == "meets":
        value, goal = verdict["value"]["value"], verdict["goal"]["value"]
        return "meets" if (value <= goal if verdict["better"] == LOWER else value >= goal) else "misses"
    if kind == "agrees":
        return "agrees" if verdict["error"] <= verdict["tolerance"] else "disagrees"
    raise ValueError(f"unknown verdict kind {kind!r}")


# Words that judge a result. In a notebook's prose they may stand only inside a generated statement
# (a recorded verdict's sentence, including a ``reading``) or in a question to the reader.
JUDGEMENT_WORDS = re.compile(
    r"\b(better|worse|worst|similar(?:ly)?|converg\w*|clear(?:ly)?|sharp(?:en\w*|er)|blurr\w*|templates?"
    r"|cleaner|clean prototype|collaps\w*|follows? (?:the|its) (?:input's )?noise|wins?|beats?|outperform\w*"
    r"|significant(?:ly)?|poor(?:ly)?|good|fail(?:s|ed)?|succeed\w*|improv\w*|overfit\w*|pays? off|learns? to)\b",
    re.IGNORECASE,
)


def unsupported_judgements(text: str, generated: Iterable[str] = ()) -> list[str]:
    """The sentences of ``text`` that use a judgement word (:data:`JUDGEMENT_WORDS`) outside the
    ``generated`` sentences (a run's recorded verdict sentences) and are not questions (tests)."""
    for sentence in sorted(generated, key=len, reverse=True):
        text = text.replace(sentence, " ")
    text = re.sub(r"`[^`]*`|\$[^$]*\$|\([^()]*\d[^()]*\)", " ", text)  # code, maths, parenthesised numbers
    found = []
    for sentence in re.split(r"(?<=[.!?:])\s+|\n\s*\n|\n[-*|#>]", text):
        sentence = sentence.strip(" *_\n")
        if JUDGEMENT_WORDS.search(sentence) and not sentence.rstrip(" )*_").endswith("?"):
            found.append(sentence)
    return found


def notebook_prose(notebook) -> str:
    """The prose a reader of an executed notebook sees: Markdown cells and Markdown outputs, except
    the theory answers (Markdown cells tagged ``answer``: pen-and-paper reasoning, no run numbers)."""
    parts = []
    for cell in notebook.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "markdown" and "answer" not in tags:
            parts.append(cell.source)
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") in ("display_data", "execute_result"):
                parts.append(output.get("data", {}).get("text/markdown", ""))
    return "\n\n".join(parts)
