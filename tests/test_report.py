"""The report: progress-bar junk is removed and the PDF is really produced (in CI for sure)."""

from __future__ import annotations

import os
import shutil
import subprocess

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
