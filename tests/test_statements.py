"""Generated statements: the judgement word follows the numbers, and every notebook's recorded
verdicts agree with the numbers they were computed from (smoke runs)."""

from __future__ import annotations

import re

import pytest

from helpers.metrics import verdict_words
from helpers.notebook import NotebookRun, summary_table
from helpers.statements import (
    SAME,
    agrees,
    best_of,
    best_of_accuracies,
    compare,
    compare_accuracies,
    difference_standard_error,
    meets,
    near,
    notebook_prose,
    paired_standard_error,
    reading,
    recheck,
    recorded_margin,
    seed_differences,
    sentence_matches,
    similar,
    standard_error,
    unsupported_judgements,
)

NOTEBOOKS = ["01_cnn_classifier", "02_autoencoders", "03_transfer_learning", "04_denoising", "05_gan"]


def test_compare_names_the_winner_only_beyond_twice_the_spread():
    clear = compare("pretrained", 0.85, "scratch", 0.80, spread=(0.01, "spread across 5 seeds"))
    assert clear.outcome == "a" and clear.text.startswith("pretrained beats scratch by 0.05")
    assert "more than 2× the spread across 5 seeds" in clear.text
    within = compare("pretrained", 0.81, "scratch", 0.80, spread=(0.01, "spread across 5 seeds"))
    assert within.outcome == "same" and within.text.endswith(SAME) and "beats" not in within.text
    worse = compare("pretrained", 0.70, "scratch", 0.80, spread=(0.01, "spread"))
    assert worse.outcome == "b" and worse.text.startswith("scratch beats pretrained")


def test_compare_without_a_judgement_says_exceeds():
    s = compare("1 → 8", 30, "8 → 1", 2, better="neither", spread=(5.6, "Poisson noise"))
    assert s.outcome == "a" and s.text.startswith("1 → 8 exceeds 8 → 1") and "better" not in s.text


def test_meets_a_goal_in_either_direction():
    assert meets("time ratio", 1.8, "the 3× goal", 3.0).outcome == "meets"
    assert meets("time ratio", 3.5, "the 3× goal", 3.0).outcome == "misses"
    assert meets("accuracy", 0.9, "the 95% target", 0.95, better="higher").outcome == "misses"


def test_compare_lower_is_better_flips_the_winner_and_a_single_run_says_so():
    s = compare("skips", 0.01, "no skips", 0.02, better="lower")
    assert s.outcome == "a" and "skips beats no skips" in s.text and "single run" in s.text


@pytest.mark.parametrize("bad", [dict(better="bigger"), dict(spread=(-1.0, "x"))])
def test_compare_rejects_unclear_direction_or_negative_spread(bad):
    with pytest.raises(ValueError):
        compare("a", 1.0, "b", 2.0, **bad)


def test_compare_rejects_nan_naming_the_quantity():
    with pytest.raises(ValueError, match="scratch"):
        compare("pretrained", 0.8, "scratch", float("nan"))


def test_similar_is_decided_by_the_ratio():
    assert similar({"a": 21_000, "b": 57_000, "c": 152_000}, "parameter counts").outcome == "different"
    s = similar({"a": 100, "b": 120}, "parameter counts")
    assert s.outcome == "similar" and "are similar" in s.text


def test_best_of_reports_a_tie_within_the_noise():
    s = best_of({"x": 0.90, "y": 0.895, "z": 0.5}, spread=(0.01, "standard error"))
    assert s.outcome == "tied" and s.verdict["best"] == "x" and "share the best" in s.text
    assert best_of({"x": 0.90, "y": 0.80}, spread=(0.01, "standard error")).outcome == "clear"
    assert best_of({"x": 0.3, "y": 0.1}, better="lower").verdict["best"] == "y"


def test_near_and_agrees():
    assert near("code 8 error", 0.105, "mean-image baseline", 0.11).outcome == "near"
    assert near("code 64 error", 0.02, "mean-image baseline", 0.11).outcome == "far"
    assert agrees("autograd", 1e-14, 1e-10).outcome == "agrees"
    assert "does not agree" in agrees("autograd", 1e-3, 1e-10).text


def test_standard_error_of_an_accuracy():
    assert standard_error(0.5, 100) == pytest.approx(0.05)
    with pytest.raises(ValueError):
        standard_error(0.5, 0)


def test_recheck_catches_a_verdict_its_numbers_deny():
    verdict = dict(compare("a", 0.9, "b", 0.5).verdict)
    assert recheck(verdict) == verdict["outcome"] == "a"
    verdict["a"] = {"name": "a", "value": 0.1}
    assert recheck(verdict) != verdict["outcome"]


@pytest.mark.parametrize(
    "statement",
    [
        compare("a", 2.0, "b", 1.0),
        compare("a", 1.0, "b", 2.0),
        compare("a", 1.0, "b", 1.1, spread=(0.1, "noise")),
        compare("a", 3.0, "b", 1.0, better="neither"),
        best_of({"x": 1.0, "y": 0.5}),
        similar({"x": 1, "y": 9}, "sizes"),
        near("v", 1.0, "r", 1.05),
        meets("t", 4.0, "goal", 3.0),
        agrees("check", 1.0, 1e-3),
    ],
)
def test_every_generated_sentence_carries_its_outcome_and_not_the_opposite(statement):
    assert sentence_matches(statement.verdict, statement.text)
    flipped = dict(statement.verdict)
    flipped["outcome"] = {
        "a": "b",
        "b": "a",
        "same": "a",
        "clear": "tied",
        "different": "similar",
        "near": "far",
        "misses": "meets",
        "disagrees": "agrees",
    }[statement.outcome]
    assert not sentence_matches(flipped, statement.text)


def test_run_verdict_records_under_the_item_and_refuses_duplicates(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBOOK_OUTPUT", str(tmp_path))
    run = NotebookRun("99_test", {"profile": "smoke"})
    text = run.verdict("000.5", compare("a", 2.0, "b", 1.0, key="gain"))
    assert text.startswith("a beats b") and run.metrics["000.5"]["verdicts"]["gain"]["outcome"] == "a"
    assert run.metrics["000.5"]["verdicts"]["gain"]["sentence"] == text
    with pytest.raises(ValueError, match="gain"):
        run.verdict("000.5", compare("a", 2.0, "b", 1.0, key="gain"))
    assert "a beats b" in summary_table(run.metrics) and "gain" not in summary_table(run.metrics)


def test_run_target_explains_a_missed_target_with_the_full_profiles_values(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBOOK_OUTPUT", str(tmp_path))
    from helpers.parameters import declared_defaults, load_profiles

    run = NotebookRun("04_denoising", declared_defaults("04_denoising"))
    full = load_profiles("04_denoising")["full"]
    missed = run.target(
        "004.Ex3.e",
        meets("the gain", 5.7, "the target", 8.0, "higher", "{:+.1f} dB", "target_gain"),
        "too few epochs.",
        full=("denoise_train", "denoise_epochs", "sigma"),
    )
    assert missed.startswith("**Target:** the gain misses the target (+5.7 dB, goal ≥ +8.0 dB).")
    assert "What holds it back in the `default` profile: too few epochs." in missed
    assert f"`denoise_train = {full['denoise_train']}` (here {run.parameters['denoise_train']})" in missed
    assert "sigma" not in missed  # full does not change it, so it is not named
    assert run.metrics["004.Ex3.e"]["verdicts"]["target_gain"]["outcome"] == "misses"
    met = run.target("004.Ex3.e", meets("the gain", 9.0, "the target", 8.0, "higher", key="met"), "unused", ("sigma",))
    assert "holds it back" not in met and "full" not in met


def _verdicts(metrics):
    return [
        (item, key, verdict)
        for item, values in metrics.items()
        if isinstance(values, dict)
        for key, verdict in values.get("verdicts", {}).items()
    ]


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_recorded_verdict_follows_from_its_numbers(smoke_run, notebook):
    metrics = smoke_run(notebook)
    verdicts = _verdicts(metrics)
    assert verdicts, f"{notebook} records no generated statements"
    for item, key, verdict in verdicts:
        assert recheck(verdict) == verdict["outcome"], (item, key, verdict)
        assert sentence_matches(verdict, verdict["sentence"]), (item, key, verdict)
        if verdict["kind"] == "best_of":
            values = verdict["values"]
            pick = max if verdict["better"] == "higher" else min
            assert values[verdict["best"]] == pick(values.values()), (item, key)
        if verdict.get("noise"):
            assert recorded_margin(verdict) == pytest.approx(verdict["factor"] * verdict["spread"]), (item, key)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_no_judgement_word_in_a_notebooks_prose_outside_its_generated_statements(smoke_run, notebook):
    """Words such as "better", "sharpen", "collapse" or "follows the noise" may stand only in a sentence
    the run generated from a comparison (a recorded verdict) or in a question to the reader."""
    import nbformat

    metrics = smoke_run(notebook)
    executed = nbformat.read(str(smoke_run.root / "out" / "notebooks" / f"{notebook}.ipynb"), 4)
    recorded = [verdict for _, _, verdict in _verdicts(metrics)]
    generated = [v["sentence"] for v in recorded] + [verdict_words(v)[3] for v in recorded]  # + summary rows
    assert unsupported_judgements(notebook_prose(executed), generated) == []


def _is_display_markdown(node) -> bool:
    import ast

    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and getattr(node.value.func, "id", None) == "display"
        and len(node.value.args) == 1
        and isinstance(node.value.args[0], ast.Call)
        and getattr(node.value.args[0].func, "id", None) == "Markdown"
    )


def prose_only(source: str) -> bool:
    """A code cell whose only job is to write prose: it ends in display(Markdown(...)), shows nothing else,
    and trains, records, saves or finishes nothing (its helper statements are assignments, defs, loops, ifs)."""
    import ast

    body = ast.parse(source).body
    if not body or any(
        word in source
        for word in ("run.figure", "run.record", "run.finish", ".fit(", "train_engine(", "train_gan(", "train_2d(")
    ):
        return False
    allowed = (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.FunctionDef, ast.For, ast.If, ast.Import, ast.ImportFrom)
    nodes = [n for top in body for n in ([top] if not isinstance(top, ast.If) else top.body + top.orelse)]
    return any(_is_display_markdown(n) for n in nodes) and all(
        isinstance(n, allowed) or _is_display_markdown(n) for n in nodes
    )


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_prose_only_cells_and_only_they_are_hidden_in_jupyterlab_and_the_report(notebook):
    from pathlib import Path

    import jupytext

    nb = jupytext.read(Path(__file__).parent.parent / "notebooks" / f"{notebook}.py")
    assert "jupyter" in nb.metadata["jupytext"]["cell_metadata_filter"].split(","), "jupytext would drop the flag"
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        hidden = "remove_input" in cell.metadata.get("tags", [])
        assert hidden == prose_only(cell.source), cell.source[:200]
        assert hidden == bool(cell.metadata.get("jupyter", {}).get("source_hidden")), cell.source[:200]


def test_prose_only_rule():
    assert prose_only('x = 1\ndisplay(Markdown(f"{x}"))')
    assert not prose_only('display(Markdown("a"))\ntable')
    assert not prose_only('run.record("a", x=1)\ndisplay(Markdown("a"))')
    assert not prose_only("table")


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_the_report_prints_prose_cells_outputs_but_not_their_source(smoke_run, notebook):
    import copy

    import nbformat
    from nbconvert import LatexExporter

    from helpers.report import PROSE_TAG, TEMPLATES, clean_outputs, exporter_config

    smoke_run(notebook)
    nb = clean_outputs(nbformat.read(str(smoke_run.root / "out" / "notebooks" / f"{notebook}.ipynb"), as_version=4))
    prose = [c for c in nb.cells if PROSE_TAG in c.metadata.get("tags", [])]
    assert prose, f"{notebook} has no prose cells"
    for k, cell in enumerate(prose):  # a marker in each prose cell's source, to look for in the LaTeX
        cell.source = f"prosesourcemarker{k}()\n" + cell.source
    exporter = LatexExporter(
        config=exporter_config(), extra_template_paths=[str(TEMPLATES / "workbook")], template_file="workbook.tex.j2"
    )
    latex, _ = exporter.from_notebook_node(nb)
    assert "prosesourcemarker" not in latex
    sentence = next(
        o["data"]["text/markdown"] for c in prose for o in c.outputs if "text/markdown" in o.get("data", {})
    )
    assert re.findall(r"[A-Za-z]{5,}", sentence)[0] in latex  # the sentence itself is printed
    untagged = copy.deepcopy(nb)  # the same check must fail when the tag is missing
    for cell in untagged.cells:
        cell.metadata["tags"] = [t for t in cell.metadata.get("tags", []) if t != PROSE_TAG]
    assert "prosesourcemarker" in exporter.from_notebook_node(untagged)[0]


def test_the_margin_of_two_accuracies_is_the_standard_error_of_their_difference():
    # Issue 21's 004.Ex1 case by hand: 87.00% vs 86.35% on 10,000 images, unpaired
    se = difference_standard_error(0.8700, 10_000, 0.8635)
    assert se == pytest.approx(((0.87 * 0.13 + 0.8635 * 0.1365) / 10_000) ** 0.5)
    assert 2 * 100 * se == pytest.approx(0.961, abs=0.001)  # 2x the SE of the difference: 0.96 points
    assert se > standard_error(0.87, 10_000)  # the single-accuracy SE was too small a margin


def test_the_paired_margin_follows_the_discordant_images_by_hand():
    # 10 images: A alone right on 3, B alone right on 1, both right on 5, both wrong on 1
    a = [1, 1, 1, 0, 1, 1, 1, 1, 1, 0]
    b = [0, 0, 0, 1, 1, 1, 1, 1, 1, 0]
    by_hand = ((3 + 1) / 10**2 - (3 - 1) ** 2 / 10**3) ** 0.5  # = sqrt(0.036)
    assert paired_standard_error(a, b) == pytest.approx(by_hand)
    import numpy as np

    d = np.array(a, float) - np.array(b, float)
    assert paired_standard_error(a, b) == pytest.approx(d.std() / np.sqrt(d.size))
    statement = compare_accuracies("A", a, "B", b, key="ab")
    assert statement.verdict["a"]["value"] == pytest.approx(80.0) and statement.verdict["b"]["value"] == 60.0
    assert statement.verdict["spread"] == pytest.approx(100 * by_hand)
    assert statement.outcome == "same"  # 20 points < 2 x 18.97 points on 10 images
    assert recheck(statement.verdict) == "same" and recorded_margin(statement.verdict) == pytest.approx(200 * by_hand)
    with pytest.raises(ValueError, match="same images"):
        paired_standard_error(a, b[:5])


def test_identical_predictions_on_many_images_are_never_a_difference_but_a_real_gap_is():
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.random(10_000) < 0.9
    b = a.copy()  # B disagrees with A on 500 images, 250 each way: the same accuracy
    b[np.flatnonzero(a)[:250]] = False
    b[np.flatnonzero(~a)[:250]] = True
    assert compare_accuracies("A", a, "B", b, key="x").outcome == "same"
    worse = a & (rng.random(10_000) < 0.95)  # B loses 5% of A's right answers
    clear = compare_accuracies("A", a, "B", worse, key="y")
    assert clear.outcome == "a" and "paired difference on 10000 test images" in clear.text
    best = best_of_accuracies({"A": a, "B": worse, "C": b}, key="z")
    assert best.verdict["noise"]["n"] == 10_000 and best.verdict["runner_up"] in ("B", "C")


def test_seed_differences_use_the_spread_of_per_seed_differences():
    mean, se, k = seed_differences([0.80, 0.82, 0.79], [0.78, 0.80, 0.78])
    assert k == 3 and mean == pytest.approx(0.05 / 3)
    d = [0.02, 0.02, 0.01]
    m = sum(d) / 3
    assert se == pytest.approx((sum((x - m) ** 2 for x in d) / 2) ** 0.5 / 3**0.5)
    with pytest.raises(ValueError, match="same >= 2 seeds"):
        seed_differences([0.8], [0.7])


def test_a_reading_is_chosen_by_its_comparison_and_rechecked_from_it():
    base = compare("skip", 0.02, "plain", 0.05, better="lower", spread=(0.001, "tolerance"), key="mse")
    texts = {"a": "the skips carry the detail", "b": "the skips do not help", "same": "no difference shows"}
    r = reading(base, texts, key="why")
    assert r.text == "the skips carry the detail" and recheck(r.verdict) == "a"
    assert sentence_matches(r.verdict, r.text) and not sentence_matches(r.verdict, texts["b"])
    with pytest.raises(ValueError, match="no text for the outcome"):
        reading(base, {"b": "x"}, key="bad")


def test_the_prose_scan_flags_typed_judgements_but_not_generated_sentences_or_questions():
    generated = ["residual beats inception by 0.65 points (residual 87.00%, inception 86.35%)"]
    text = (
        "On fashion-mnist: residual beats inception by 0.65 points (residual 87.00%, inception 86.35%). "
        "Between the two epochs the maps sharpen. Do the maps sharpen between epochs? "
        "The plain CAE keeps drawing a clean prototype. The model has 3 layers."
    )
    assert unsupported_judgements(text, generated) == [
        "Between the two epochs the maps sharpen.",
        "The plain CAE keeps drawing a clean prototype.",
    ]


def test_equal_numbers_without_a_spread_are_no_difference_not_a_crash():
    s = compare("DCGAN", 7, "AE decoder", 7, key="eq")
    assert s.outcome == "same" and s.text.startswith("DCGAN and AE decoder are equal") and recheck(s.verdict) == "same"
    assert sentence_matches(s.verdict, s.text)


def test_similar_at_the_boundary_agrees_with_its_recheck():
    import numpy as np

    for values in ({"a": 0.62, "b": 0.93}, {"a": np.float32(0.62), "b": np.float32(0.93)}, {"a": 2.0, "b": 3.0}):
        s = similar(values, "times", key="t")
        assert recheck(s.verdict) == s.outcome, values
