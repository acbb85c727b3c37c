"""The report: progress-bar junk is removed and the PDF is really produced (in CI for sure)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import nbformat
import pytest

from helpers.report import build_report, clean_outputs, pdf_engine_missing


def notebook_with_outputs():
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cell = nbformat.v4.new_code_cell("train()")
    cell.outputs = [
        nbformat.v4.new_output(
            "stream", name="stderr", text="model:   0%|          | 0/5 [00:00<?]\rmodel: 100%|##| 5/5\n"
        ),
        nbformat.v4.new_output(
            "display_data",
            data={"application/vnd.jupyter.widget-view+json": {"model_id": "x"}, "text/plain": "HBox(children=(...))"},
        ),
        nbformat.v4.new_output("stream", name="stdout", text="epoch 5: test_acc=0.9512\n"),
        nbformat.v4.new_output("stream", name="stderr", text="UserWarning: something real\n"),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# 99 · Test notebook\n\nSome text with → and ≈."), cell]
    return nb


def test_clean_outputs_drops_progress_bars_and_widgets_but_keeps_real_output():
    cleaned = clean_outputs(notebook_with_outputs()).cells[1].outputs
    texts = [o.get("text", "") for o in cleaned]
    assert texts == ["epoch 5: test_acc=0.9512\n", "UserWarning: something real\n"]


def test_pdf_report_is_built_with_the_latex_engine(tmp_path):
    if pdf_engine_missing():
        if os.environ.get("CI"):
            pytest.fail(f"CI must install the PDF engine; missing: {pdf_engine_missing()}")
        pytest.skip(f"PDF engine missing here: {pdf_engine_missing()}")
    source = tmp_path / "notebooks" / "99_test.ipynb"
    source.parent.mkdir()
    nbformat.write(notebook_with_outputs(), str(source))
    written = build_report([source], tmp_path / "report", "smoke")
    assert [p.name for p in written] == ["workbook_report.pdf", "99_test.pdf"]
    assert written[0].read_bytes()[:4] == b"%PDF"
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(written[0]), "-"], capture_output=True, text=True).stdout
        assert "Test notebook" in text and "test_acc=0.9512" in text and "Contents" in text
        assert "0%|" not in text and "HBox" not in text


def notebook_with_prose_cell():
    nb = notebook_with_outputs()
    prose = nbformat.v4.new_code_cell('display(Markdown(f"sourcemarker {accuracy:.2%}"))')
    prose.metadata["tags"] = ["remove_input"]
    prose.metadata["jupyter"] = {"source_hidden": True}
    prose.outputs = [
        nbformat.v4.new_output(
            "display_data", data={"text/markdown": "Generated sentence 91.20%.", "text/plain": "<Markdown>"}
        )
    ]
    nb.cells.append(prose)
    return nb


def test_prose_cells_show_their_sentence_but_not_their_source_in_the_report(tmp_path):
    from nbconvert import HTMLExporter

    from helpers.report import exporter_config

    html, _ = HTMLExporter(config=exporter_config()).from_notebook_node(notebook_with_prose_cell())
    assert "Generated sentence" in html and "sourcemarker" not in html and "Test notebook" in html
    if pdf_engine_missing() or not shutil.which("pdftotext"):
        pytest.skip("PDF engine or pdftotext missing here")
    source = tmp_path / "notebooks" / "99_test.ipynb"
    source.parent.mkdir()
    nbformat.write(notebook_with_prose_cell(), str(source))
    pdf = build_report([source], tmp_path / "report", "smoke", per_notebook=False)[0]
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "Generated sentence" in text and "sourcemarker" not in text and "train()" in text


def test_summary_table_says_each_verdict_in_words_with_its_target(tmp_path, monkeypatch):
    from helpers.metrics import shown_as_in, verdict_words
    from helpers.notebook import NotebookRun, summary_table
    from helpers.report import readable_summary
    from helpers.statements import compare, meets

    monkeypatch.setenv("WORKBOOK_OUTPUT", str(tmp_path))
    run = NotebookRun("99_test", {"profile": "smoke"})
    run.record("001", test_acc_100=0.92)
    se = (3.0, "standard error on 100 images")
    run.verdict("001", compare("momentum", 92, "SGD", 85, spread=se, fmt="{:.0f}%", key="momentum_vs_sgd"))
    run.verdict("001", compare("RMSProp", 86, "SGD", 85, spread=se, fmt="{:.0f}%", key="rmsprop_vs_sgd"))
    run.verdict("004.Ex1.best", meets("the test accuracy", 0.9812, "the target", 0.985, "higher", "{:.2%}"))
    table = readable_summary(run.metrics)
    assert table.splitlines()[0] == "| item | what | value | target | verdict |"
    rows = {line.split(" | ")[1]: line for line in table.splitlines()[2:]}
    assert "92% vs 85%" in rows["momentum vs SGD"] and "momentum beats SGD" in rows["momentum vs SGD"]
    assert "no measurable difference" in rows["RMSProp vs SGD"]
    target = rows["best: the test accuracy"]
    assert target.startswith("| 004.Ex1 |") and "98.12%" in target and "≥ 98.50%" in target and "misses" in target
    base = compare("skips", 0.02, "no skips", 0.035, better="lower", fmt="{:.3f}")
    reading = {"kind": "reading", "base": {**base.verdict, "sentence": base.text}, "outcome": "a"}
    assert verdict_words({**reading, "sentence": "the skip model follows the noise less"}) == (
        "skips vs no skips",
        "0.020 vs 0.035",
        "",
        "the skip model follows the noise less",
    )
    assert shown_as_in(12.5, "the denoiser gains 12.5 dB (goal ≥ 8.0 dB)") == "12.5 dB"
    assert shown_as_in(2.234, "leading by 6.00 points, more than 2× the standard error", "(", missing="") == ""
    assert "momentum_vs_sgd" not in table and ": a" not in table and "verdicts" not in table
    assert summary_table(run.metrics) == table  # the notebooks' last table is the same table


def test_internal_words_are_found_where_the_pdf_shows_them_and_not_in_hidden_code():
    from helpers.report import internal_words

    nb = nbformat.v4.new_notebook()
    hidden = nbformat.v4.new_code_cell("# see issue 17", metadata={"tags": ["remove_input"]})
    hidden.outputs = [nbformat.v4.new_output("stream", name="stdout", text="stored in /tmp/x/ck/run.pt\n")]
    nb.cells = [
        nbformat.v4.new_markdown_cell("As measured by `benchmarks/epoch_costs.py` (issue 21)."),
        hidden,
        nbformat.v4.new_markdown_cell("Issues of scale: 17 images in checkpoints/02/003_2_grid."),
    ]
    found = internal_words(nb)
    assert found == ["cell 0: benchmarks/epoch_costs.py", "cell 0: issue 21", "cell 1: /tmp/x/ck/run.pt"]


def test_wide_dataframes_become_tables_that_wrap_at_the_text_width():
    import pandas as pd
    from nbconvert.filters.pandoc import convert_pandoc

    from helpers.report import fit_table

    narrow = pd.DataFrame({"model": ["a", "b"], "acc %": [91.2, 90.4]}).to_html()
    assert "longtable" in fit_table(convert_pandoc(narrow, "html", "latex"))
    wide = pd.DataFrame(
        {f"a long column name {k}": [f"a long cell text number {k}", k] for k in range(10)} | {"test acc %": [9.1, 8.2]}
    ).to_html()
    fitted = fit_table(convert_pandoc(wide, "html", "latex"))
    assert fitted.count("p{(\\linewidth - 24\\tabcolsep) * \\real{") == 12  # index + 11 columns wrap in the text width
    assert fitted.count(">{\\raggedleft\\arraybackslash}") == 2  # the index and the numbers
    shares = [float(x) for x in re.findall(r"\\real\{([\d.]+)\}", fitted)]
    assert abs(sum(shares) - 1) < 1e-3 and "\\begin{longtable}" in fitted  # still breaks across pages


def many_sections_notebook():
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# 99 · Test notebook")]
    for k in range(1, 71):  # a contents longer than one page
        nb.cells.append(nbformat.v4.new_markdown_cell(f"## Section {k} marker\n\n" + "Some words. " * 40))
    return nb


@pytest.mark.skipif(bool(pdf_engine_missing()) or not shutil.which("pdftotext"), reason="PDF engine missing")
def test_contents_page_numbers_are_the_pages_the_sections_start_on(tmp_path):
    source = tmp_path / "notebooks" / "99_test.ipynb"
    source.parent.mkdir()
    nbformat.write(many_sections_notebook(), str(source))
    pdf = build_report([source], tmp_path / "report", "smoke", per_notebook=False)[0]

    def page(number: int) -> str:
        args = ["pdftotext", "-layout", "-f", str(number), "-l", str(number), str(pdf), "-"]
        return subprocess.run(args, capture_output=True, text=True).stdout

    contents = page(1) + page(2)
    listed = {int(k): int(p) for k, p in re.findall(r"Section (\d+) marker[ .]*?(\d+)\s*$", contents, re.M)}
    assert len(listed) > 40 and max(listed.values()) > 3
    for k in (1, 35, 70):
        assert f"Section {k} marker" in page(listed[k]), f"section {k} is not on page {listed[k]}"


class FakeLatex:
    """Stands in for the exporter: run k writes the contents file of layout ``min(k, stable_after)``
    (so it stops changing after ``stable_after`` runs), and the PDF only when the run is not ``-no-pdf``."""

    latex_command = ["xelatex", "{filename}", "-quiet"]

    def __init__(self, stable_after: int):
        self.stable_after, self.commands = stable_after, []

    def run_command(self, command, filename, count, log_function, raise_on_failure=None):
        self.commands.append("-no-pdf" if "-no-pdf" in command else "pdf")
        Path(filename).with_suffix(".toc").write_text(f"layout {min(len(self.commands), self.stable_after)}")
        if "-no-pdf" not in command:
            Path(filename).with_suffix(".pdf").write_text("pdf")
        return True


@pytest.mark.parametrize("stable_after, expected", [(1, 2), (2, 3), (3, 4), (99, 5)])
def test_latex_lays_the_document_out_until_its_contents_stop_changing_then_writes_the_pdf_once(
    tmp_path, monkeypatch, stable_after, expected
):
    from helpers.report import LATEX_LAYOUT_RUNS, run_latex_until_stable

    monkeypatch.chdir(tmp_path)
    latex = FakeLatex(stable_after)
    assert run_latex_until_stable(latex, "notebook.tex")
    assert latex.commands == ["-no-pdf"] * min(expected, LATEX_LAYOUT_RUNS) + ["pdf"]
    assert (tmp_path / "notebook.pdf").exists()


@pytest.mark.skipif(bool(pdf_engine_missing()) or not shutil.which("pdftotext"), reason="PDF engine missing")
def test_figures_are_numbered_with_their_captions_in_the_pdf(tmp_path):
    import base64
    import io

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    png = base64.b64encode(buffer.getvalue()).decode()
    nb = notebook_with_outputs()
    for caption in ("first curve (mnist-10k, smoke)", ""):
        cell = nbformat.v4.new_code_cell("plot()")
        cell.outputs = [
            nbformat.v4.new_output(
                "display_data", data={"image/png": png}, metadata={"caption": caption} if caption else {}
            )
        ]
        nb.cells.append(cell)
    source = tmp_path / "notebooks" / "99_test.ipynb"
    source.parent.mkdir()
    nbformat.write(nb, str(source))
    pdf = build_report([source], tmp_path / "report", "smoke", per_notebook=False)[0]
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "Figure 1: first curve (mnist-10k, smoke)" in text and "Figure 2" in text


def test_the_reports_summary_lists_verdicts_and_targets_and_leaves_plain_numbers_to_the_notebooks(tmp_path):
    from helpers.metrics import write_metrics
    from helpers.report import SUMMARY_NOTE, summary_markdown
    from helpers.statements import compare, meets

    verdict = compare("momentum", 92, "SGD", 85, spread=(3.0, "standard error"), fmt="{:.0f}%", key="m")
    target = meets("the test accuracy", 0.9812, "the target", 0.985, "higher", "{:.2%}", key="t")
    metrics = {
        "notebook": "01_cnn_classifier",
        "profile": "smoke",
        "002.P4.1": {"a_side": 49},
        "001": {"test_acc_100": 0.92, "verdicts": {"m": {**verdict.verdict, "sentence": verdict.text}}},
        "004.Ex1": {"verdicts": {"t": {**target.verdict, "sentence": target.text}}},
    }
    path = write_metrics(tmp_path / "01_cnn_classifier.json", metrics)
    short = summary_markdown([path])
    assert SUMMARY_NOTE in short and "momentum beats SGD" in short and "≥ 98.50%" in short
    assert "a side" not in short and "| 002.P4.1 |" not in short  # plain numbers: the notebook's own table
    full = summary_markdown([path], verdicts_only=False)
    assert "a side" in full and "momentum beats SGD" in full


def test_documents_built_side_by_side_come_back_in_order_and_a_workers_error_is_raised(tmp_path, monkeypatch):
    """``export_all`` on two processes: results in the jobs' order (whatever finishes first), the
    same files as one process, and an error in a worker (a refused internal word) reaches the caller."""
    from helpers import report

    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))  # no xelatex, here and in the workers: HTML
    small, large = notebook_with_outputs(), notebook_with_outputs()
    large.cells += [nbformat.v4.new_markdown_cell(f"part {k}") for k in range(5)]  # started first, returned second
    jobs = [(small, tmp_path / "two" / "small", {}), (large, tmp_path / "two" / "large", {"title": "Large"})]
    written = report.export_all(jobs, workers=2)
    assert [p.name for p in written] == ["small.html", "large.html"]
    serial = report.export_all([(nb, tmp_path / "one" / t.name, o) for nb, t, o in jobs], workers=1)
    assert [p.read_text() for p in written] == [p.read_text() for p in serial]
    leaky = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("as issue 22 says")])
    with pytest.raises(ValueError, match="project-internal words reach the hand-in: cell 0: issue 22"):
        report.export_all([jobs[0], (leaky, tmp_path / "leaky", {"strict": True})], workers=2)
