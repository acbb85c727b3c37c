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
from collections.abc import Mapping
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
    if outcome == "same":
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
    if min(values.values()) <= 0:
        raise ValueError(f"similar() compares positive numbers by their ratio; got {dict(values)}")
    ratio = max(values.values()) / min(values.values())
    outcome = "similar" if ratio <= max_ratio else "different"
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


def recheck(verdict: Mapping[str, Any]) -> str:
    """The outcome the recorded numbers imply, derived again from the record alone (tests)."""
    kind = verdict["kind"]
    if kind == "compare":
        a, b = verdict["a"]["value"], verdict["b"]["value"]
        gain = b - a if verdict["better"] == LOWER else a - b
        margin = verdict["factor"] * (verdict["spread"] or 0.0)
        return "same" if abs(gain) <= margin else ("a" if gain > 0 else "b")
    if kind == "best_of":
        v = verdict["values"]
        order = sorted(v.values(), reverse=verdict["better"] == HIGHER)
        return "clear" if abs(order[0] - order[1]) > verdict["factor"] * (verdict["spread"] or 0.0) else "tied"
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
