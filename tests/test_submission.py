"""Hand-in folders, course scripts and student copies (helpers.submission, helpers.student)."""

from __future__ import annotations

import ast
import gzip
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from helpers.metrics import metric_label, metric_value
from helpers.paths import REPO_ROOT, environment, notebooks_dir
from helpers.report import pdf_engine_missing
from helpers.submission import ASSIGNMENTS, COURSE_SCRIPTS, SelectItems, Student, build_submission, cell_items

NOTEBOOKS = ("01_cnn_classifier", "02_autoencoders", "03_transfer_learning", "04_denoising", "05_gan")


def item_headings() -> dict[str, str]:
    """item code -> the heading text of the cell that starts its section, from the committed notebooks."""
    headings = {}
    for name in NOTEBOOKS:
        for cell in nbformat.read(str(notebooks_dir() / f"{name}.ipynb"), as_version=4).cells:
            for item in cell_items(cell):
                if item != "none":
                    line = next(ln for ln in cell.source.split("\n") if ln.startswith("## "))
                    headings.setdefault(item, set()).add(line[3:].strip())
    return headings


def squeeze(text: str) -> str:
    """Text without white space, with LaTeX's typographic quotes made plain (for pdftotext output)."""
    return re.sub(r"\s+", "", text).replace("\u2019", "'").replace("\u2018", "'")


# --------------------------------------------------------------------------- fast checks


def test_every_assignment_item_has_a_tagged_section_and_every_tag_names_a_listed_item():
    headings = item_headings()
    listed = {item for a in ASSIGNMENTS.values() for item in a.items}
    assert listed <= set(headings), f"items without a tagged section: {sorted(listed - set(headings))}"
    assert set(headings) <= listed, f"tags naming no assignment item: {sorted(set(headings) - listed)}"


def test_select_items_keeps_one_assignment_in_its_order_until_the_next_tagged_heading():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        md("# 01 · first notebook"),
        code("setup"),
        md("## 002.P4.2 CNN", metadata={"tags": ["item:002.P4.2"]}),
        code("cnn"),
        md("### (a) filters"),
        md("## 004.Ex1 other", metadata={"tags": ["item:004.Ex1"]}),
        code("ex1"),
        md("## 002.P1 descent", metadata={"tags": ["item:002.P1"]}),
        code("p1"),
        md("## Summary", metadata={"tags": ["item:none"]}),
        code("finish"),
        md("# 02 · second notebook"),
        code("setup 2"),
        md("## 002.P2 backprop", metadata={"tags": ["item:002.P2"]}),
        code("p2"),
    ]
    selected, _ = SelectItems(assignment="002").preprocess(nbformat.from_dict(nb), {})
    assert [c.source for c in selected.cells] == [
        "## 002.P1 descent",
        "p1",
        "## 002.P2 backprop",
        "p2",
        "## 002.P4.2 CNN",
        "cnn",
        "### (a) filters",
    ]
    kept, _ = SelectItems(assignment="004", keep_preamble=True).preprocess(nbformat.from_dict(nb), {})
    assert [c.source for c in kept.cells] == [
        "# 01 · first notebook",
        "setup",
        "# 02 · second notebook",
        "setup 2",
        "## 004.Ex1 other",
        "ex1",
    ]


def test_metric_keys_get_readable_names_and_accuracies_are_percentages():
    assert metric_label("test_acc") == "test accuracy"
    assert metric_label("svm_acc_codes") == "SVM accuracy codes"
    assert metric_value("test_acc", 0.9512) == "95.1%"
    assert metric_value("test_l1", 0.045412) == "0.04541"


def test_trainer_resume_messages_are_dropped_from_the_pdf_but_real_output_stays():
    from helpers.report import clean_outputs

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("fit()")
    cell.outputs = [
        nbformat.v4.new_output(
            "stream",
            name="stdout",
            text=(
                "000_2_classifier: reusing the stored run (0123abcd.pt, same settings, data and initial weights)\n"
                "ImageDataset('mnist-10k', 'train', 8000 images)\n"
            ),
        )
    ]
    nb.cells = [cell]
    assert clean_outputs(nb).cells[0].outputs[0]["text"] == "ImageDataset('mnist-10k', 'train', 8000 images)\n"


def test_student_config_rejects_unknown_keys(tmp_path):
    path = tmp_path / "submission.toml"
    path.write_text('[student]\nnames = ["A B"]\nroll = "x"\n')
    with pytest.raises(Exception, match="unknown \\[student\\] key.*roll"):
        Student.from_toml(path)


# --------------------------------------------------------------------------- course scripts


@pytest.fixture(scope="session")
def mnist_root(tmp_path_factory) -> Path:
    """torchvision's on-disk MNIST layout (root/MNIST/raw/*-ubyte), made from the embedded mnist-10k."""
    root = tmp_path_factory.mktemp("mnist")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for gz in (REPO_ROOT / "data" / "mnist-10k").glob("*-ubyte.gz"):
        (raw / gz.name[:-3]).write_bytes(gzip.decompress(gz.read_bytes()))
    return root


def helpers_model(file: str):
    from helpers.models.autoencoders import ConvAutoencoder2D, MLPAutoencoder
    from helpers.models.classifiers import FortyFilterCNN

    return {
        "mnist_cnn.pt": FortyFilterCNN,
        "mnist_ae.pt": MLPAutoencoder,
        "mnist_cae.pt": lambda: ConvAutoencoder2D(skip=False),
        "mnist-cae-skip.pt": lambda: ConvAutoencoder2D(skip=True),
    }[file]()


@pytest.mark.parametrize("name", sorted(COURSE_SCRIPTS))
def test_course_script_trains_standalone_on_mnist_and_its_file_loads_into_the_helpers_model(name, tmp_path, mnist_root):
    from helpers.checkpoint import load_checkpoint
    from helpers.submission import write_course_scripts

    script = next(p for p in write_course_scripts(tmp_path / "scripts") if p.name == name)
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(ast.parse(script.read_text()))
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {
        node.module.split(".")[0]
        for node in ast.walk(ast.parse(script.read_text()))
        if isinstance(node, ast.ImportFrom)
    }
    assert imported <= {"__future__", "argparse", "json", "pathlib", "typing", "torch", "torchvision"}, imported
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"OMP_NUM_THREADS": "1"}
    usage = subprocess.run([sys.executable, "-I", str(script), "--help"], capture_output=True, text=True, env=env)
    assert usage.returncode == 0 and "--epochs" in usage.stdout and "--data" in usage.stdout
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            str(script),
            "--data",
            str(mnist_root),
            "--limit",
            "200",
            "--epochs",
            "1",
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for file, _ in COURSE_SCRIPTS[name].saves:
        assert "epoch 1/1" in result.stdout and f"saved {tmp_path / 'out' / file}" in result.stdout
        state = load_checkpoint(tmp_path / "out" / file)["model"]
        model = helpers_model(file)
        model.load_state_dict(state)  # strict: every key and shape matches


# --------------------------------------------------------------------------- the smoke submission


@pytest.fixture(scope="session")
def submission(smoke_run, tmp_path_factory):
    """``make submission`` of a smoke run of all notebooks (PDF engine required)."""
    if pdf_engine_missing():
        if os.environ.get("CI"):
            pytest.fail(f"CI must install the PDF engine; missing: {pdf_engine_missing()}")
        pytest.skip(f"PDF engine missing here: {pdf_engine_missing()}")
    for name in NOTEBOOKS:
        smoke_run(name)
    out = tmp_path_factory.mktemp("submission")
    with environment(WORKBOOK_OUTPUT=str(smoke_run.root / "out")):
        build_submission("smoke", Student(), out)
    return out


EXPECTED = {
    "000": ["ex2_ID1_ID2.zip", "ex2_ID1_ID2/ex2.pdf", "ex2_ID1_ID2/README.txt"],
    "001": ["roll-number-hw4.ipynb", "roll-number-hw4.pdf"],
    "002": [
        "452_lastnameinitials_assignment2.pdf",
        "prob4_CNN.py",
        "prob5_AE.py",
        "prob6_CAE.py",
        "mnist_ae.pt",
        "mnist_cae.pt",
        "mnist-cae-skip.pt",
        "lastnameinitials_assignment2.ipynb",
    ],
    "003": ["lastnameinitials_homework2.pdf"],
    "004": ["PW12_lastnameinitials.zip", "PW12_lastnameinitials/report.pdf"],
}
PDFS = {
    "000": "000/ex2_ID1_ID2/ex2.pdf",
    "001": "001/roll-number-hw4.pdf",
    "002": "002/452_lastnameinitials_assignment2.pdf",
    "003": "003/lastnameinitials_homework2.pdf",
    "004": "004/PW12_lastnameinitials/report.pdf",
}


def test_submission_writes_every_file_the_assignments_name(submission):
    missing = [
        f"{code}/{name}"
        for code, names in EXPECTED.items()
        for name in names
        if not (submission / code / name).is_file()
    ]
    assert not missing
    for pdf in PDFS.values():
        assert (submission / pdf).read_bytes()[:4] == b"%PDF"


def test_archives_hold_the_report_the_readme_code_and_notebooks(submission):
    names = set(zipfile.ZipFile(submission / "000" / "ex2_ID1_ID2.zip").namelist())
    assert {
        "ex2.pdf",
        "README.txt",
        "code/helpers/submission.py",
        "code/helpers/models/autoencoders.py",
        "code/notebooks/01_cnn_classifier.ipynb",
        "code/notebooks/02_autoencoders.ipynb",
    } <= names
    readme = zipfile.ZipFile(submission / "000" / "ex2_ID1_ID2.zip").read("README.txt").decode()
    assert "Student One (username1)" in readme
    assert set(zipfile.ZipFile(submission / "004" / "PW12_lastnameinitials.zip").namelist()) == {
        "report.pdf",
        "01_cnn_classifier.ipynb",
        "03_transfer_learning.ipynb",
        "04_denoising.ipynb",
    }


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs pdftotext (poppler-utils)")
@pytest.mark.parametrize("code", sorted(PDFS))
def test_each_pdf_has_its_item_headings_and_none_of_another_assignments(submission, code):
    text = squeeze(
        subprocess.run(
            ["pdftotext", str(submission / PDFS[code]), "-"], capture_output=True, text=True, check=True
        ).stdout
    )
    headings = item_headings()
    ours = {item for item in headings if ASSIGNMENTS[code].order(item) is not None}
    for item in ours:
        for heading in headings[item]:
            assert squeeze(heading) in text, f"{code}: heading {heading!r} missing"
    for item in set(headings) - ours:
        for heading in headings[item]:
            assert squeeze(heading) not in text, f"{code}: foreign heading {heading!r}"
    assert f"Summaryofassignment{code}" in text and "Codeoftheanswer" in text


def test_submitted_models_load_into_the_helpers_models(submission):
    from helpers.checkpoint import load_checkpoint

    for file in ("mnist_ae.pt", "mnist_cae.pt", "mnist-cae-skip.pt"):
        helpers_model(file).load_state_dict(load_checkpoint(submission / "002" / file)["model"])


def test_the_001_notebook_holds_only_its_preamble_and_001_sections(submission):
    nb = nbformat.read(str(submission / "001" / "roll-number-hw4.ipynb"), as_version=4)
    items = {item for cell in nb.cells for item in cell_items(cell)}
    assert items == {"001"}
    assert any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code")  # executed


# --------------------------------------------------------------------------- student copies


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_student_copy_hides_solutions_and_runs_until_its_first_stub(name, tmp_path, isolated_outputs):
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from helpers.student import student_copy

    source = nbformat.read(str(notebooks_dir() / f"{name}.ipynb"), as_version=4)
    copy = student_copy(notebooks_dir() / f"{name}.ipynb")
    text = nbformat.writes(copy)
    solutions = [c.source for c in source.cells if "solution" in c.metadata.get("tags", [])]
    assert solutions, f"{name} has no solution cells"
    for solution in solutions:
        for line in solution.split("\n"):
            if len(line.strip()) > 30:
                assert line.strip() not in text, f"solution line left in the student copy: {line!r}"
    assert not any(c.get("outputs") for c in copy.cells if c.cell_type == "code")
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(copy, str(path))
    with pytest.raises(PapermillExecutionError) as error:  # the setup call applies the smoke values
        papermill.execute_notebook(
            str(path),
            str(tmp_path / "out.ipynb"),
            parameters={"profile": "smoke"},
            cwd=str(notebooks_dir()),
            kernel_name="python3",
            progress_bar=False,
        )
    assert error.value.ename == "NotImplementedError"
    ran = nbformat.read(str(tmp_path / "out.ipynb"), as_version=4)
    failed = [i for i, c in enumerate(ran.cells) if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    first_stub = next(i for i, c in enumerate(ran.cells) if "solution" in c.metadata.get("tags", []))
    assert failed == [first_stub]
