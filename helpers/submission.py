"""Hand-in folders: one PDF per assignment, the course scripts, archives (after ``make report``).

    python -m helpers.submission --profile default            # or: make submission
    python -m helpers.submission --config submission.toml     # names, IDs, roll number

Every assignment item lives in a notebook section whose heading cell carries a tag
``item:<code>`` (e.g. ``item:002.P4.2``; ``item:none`` ends a section). The section runs from that
heading to the next tagged heading, so untagged cells (sub-headings, code, discussion) belong to
the item above them. :class:`SelectItems`, an nbconvert preprocessor, keeps one assignment's
sections in the assignment's order; the executed notebooks of ``runs/<profile>/notebooks/`` are
the input, so the PDFs show the numbers of that run. In these PDFs code is hidden except where it
is part of the answer: the model and backprop sources listed per assignment, printed in a last
section with ``inspect.getsource`` (the same objects the notebooks run).

``prob4_CNN.py``, ``prob5_AE.py``, ``prob6_CAE.py`` (assignment 002) are generated here from the
helpers' model classes and batch steps (``inspect.getsource``) plus a short torchvision data
loader and loop, so they run with torch and torchvision only. Used by ``make submission``; the
notebooks it reads are 01-05.
"""

from __future__ import annotations

import argparse
import inspect
import shutil
import sys
import tomllib
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

import nbformat
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Unicode

from .paths import REPO_ROOT, executed_notebook_path, metrics_path, run_models_dir

ITEM_TAG = "item:"
SHOW_INPUT_TAG = "show-input"


class SubmissionError(RuntimeError):
    """Something a submission needs is missing; the message says what to run first."""


# --------------------------------------------------------------------------- the assignments


@dataclass(frozen=True)
class Assignment:
    """One assignment: its items in the text's order, the notebooks holding them, the answer code."""

    code: str
    title: str
    items: tuple[str, ...]
    notebooks: tuple[str, ...]
    answer_code: tuple[str, ...] = ()  # "module:qualified.name" printed in the PDF's code section

    def order(self, item: str) -> int | None:
        """Position of ``item`` (or of its longest listed prefix) in the assignment; None if not ours."""
        matches = [i for i, code in enumerate(self.items) if item == code or item.startswith(code + ".")]
        return max(matches, key=lambda i: len(self.items[i])) if matches else None


ASSIGNMENTS: dict[str, Assignment] = {
    a.code: a
    for a in [
        Assignment(
            "000",
            "Exercise 2: classifying and encoding models for MNIST",
            ("000.1", "000.2", "000.3", "000.4", "000.5", "000.T1", "000.T2", "000.T3"),
            ("01_cnn_classifier", "02_autoencoders"),
            (
                "helpers.models.autoencoders:ConvEncoder",
                "helpers.models.autoencoders:ConvDecoder",
                "helpers.models.autoencoders:MLPHead",
                "helpers.models.composite:EncoderHead",
            ),
        ),
        Assignment(
            "001",
            "Homework 4: a CNN with hand-written backpropagation",
            ("001",),
            ("01_cnn_classifier",),
            (
                "helpers.engine:Conv2dSame",
                "helpers.engine:MaxPool2x2",
                "helpers.engine:Linear",
                "helpers.engine:softmax_cross_entropy",
                "helpers.engine:Momentum",
                "helpers.engine:RMSProp",
            ),
        ),
        Assignment(
            "002",
            "Exercise II: backpropagation, CNNs and autoencoders",
            (
                "002.P1",
                "002.P2",
                "002.P3",
                "002.P4.1",
                "002.P4.2",
                "002.P5.1",
                "002.P5.2",
                "002.P5.3",
                "002.P5.4",
                "002.P6.1",
                "002.P6.2",
                "002.P6.3",
            ),
            ("01_cnn_classifier", "02_autoencoders", "04_denoising"),
            (
                "helpers.models.classifiers:FortyFilterCNN",
                "helpers.models.autoencoders:MLPAutoencoder",
                "helpers.models.autoencoders:ConvAutoencoder2D",
            ),
        ),
        Assignment(
            "003",
            "Homework 2: convolutional autoencoder and DCGAN",
            ("003.1", "003.2", "003.3", "003.4", "003.5"),
            ("02_autoencoders", "05_gan"),
            (
                "helpers.models.autoencoders:ConvEncoder",
                "helpers.models.autoencoders:ConvDecoder",
                "helpers.models.gan:Generator",
                "helpers.models.gan:Discriminator",
            ),
        ),
        Assignment(
            "004",
            "Practical work: non-sequential architectures, transfer learning, autoencoders",
            ("004.Ex1", "004.Ex2", "004.Ex3", "004.Ex4"),
            ("01_cnn_classifier", "03_transfer_learning", "04_denoising"),
            (
                "helpers.models.classifiers:InceptionBlock",
                "helpers.models.classifiers:ResidualBlock",
                "helpers.models.composite:EncoderHead",
                "helpers.models.denoising:ConvDenoiser",
            ),
        ),
    ]
}

# Metric keys that do not start with their item code.
METRIC_ITEMS = {"study": "004.Ex2"}


def cell_items(cell) -> list[str]:
    """The item codes a cell's ``item:`` tags name (``[]`` when it starts no section)."""
    return [t[len(ITEM_TAG) :] for t in cell.get("metadata", {}).get("tags", []) if t.startswith(ITEM_TAG)]


def assignment_of(item: str) -> str:
    """``'002'`` for ``'002.P4.2'``; the key of :data:`ASSIGNMENTS`."""
    return METRIC_ITEMS.get(item.split(".")[0], item).split(".")[0]


class SelectItems(Preprocessor):
    """Keep one assignment's item sections, in the assignment's order (an nbconvert preprocessor).

    A section starts at a cell tagged ``item:<code>`` and runs to the next tagged cell or the next
    notebook title (a level-1 heading). ``keep_preamble`` keeps the cells before the first section
    (title, parameters, setup) so that a single selected notebook still reads and runs from the
    top; ``promote_headings`` lifts ``##`` item headings to ``#`` so they become PDF sections.
    """

    assignment = Unicode(help="assignment code, a key of ASSIGNMENTS").tag(config=True)
    keep_preamble = Bool(False).tag(config=True)
    promote_headings = Bool(False).tag(config=True)

    def preprocess(self, nb, resources):
        spec = ASSIGNMENTS[self.assignment]
        preamble, sections, current = [], [], None  # current: (order, cells) or "outside"
        for cell in nb.cells:
            items = cell_items(cell)
            if cell.cell_type == "markdown" and cell.source.lstrip().startswith("# ") and not items:
                current = None  # a new notebook's title: its preamble follows
            if items:
                orders = [o for o in map(spec.order, items) if o is not None]
                current = (min(orders), []) if orders else "outside"
                if orders:
                    sections.append(current)
            if current is None:
                preamble.append(cell)
            elif current != "outside":
                current[1].append(cell)
        sections.sort(key=lambda s: s[0])  # stable: notebook order within an item
        cells = [c for _, part in sections for c in part]
        if self.promote_headings:
            for cell in cells:
                if cell.cell_type == "markdown":
                    cell.source = "\n".join(
                        line[1:] if line.startswith("##") else line for line in cell.source.split("\n")
                    )
        nb.cells = (preamble if self.keep_preamble else []) + cells
        return nb, resources


class HideCode(Preprocessor):
    """Hide every code cell's source except those tagged ``show-input`` (outputs stay)."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and SHOW_INPUT_TAG not in cell.metadata.get("tags", []):
            cell.metadata["transient"] = {"remove_source": True}
        return cell, resources


# --------------------------------------------------------------------------- who hands in


@dataclass
class Student:
    """Names and IDs that go into file names and READMEs; placeholders until configured."""

    names: list[str] = field(default_factory=lambda: ["Student One", "Student Two"])
    ids: list[str] = field(default_factory=lambda: ["ID1", "ID2"])
    usernames: list[str] = field(default_factory=lambda: ["username1", "username2"])
    roll_number: str = "roll-number"
    lastname_initials: str = "lastnameinitials"

    @classmethod
    def from_toml(cls, path: Path) -> Student:
        """Read ``[student]`` keys (the field names) from a TOML file; unknown keys are an error."""
        table = tomllib.loads(Path(path).read_text()).get("student", {})
        unknown = set(table) - {f.name for f in fields(cls)}
        if unknown:
            raise SubmissionError(
                f"{path}: unknown [student] key(s) {sorted(unknown)}; use {', '.join(f.name for f in fields(cls))}"
            )
        return cls(**table)


# --------------------------------------------------------------------------- per-assignment notebooks


def executed(notebook: str, profile: str) -> nbformat.NotebookNode:
    """The runner's executed copy of ``notebook`` in ``profile`` (an error says how to make it)."""
    path = executed_notebook_path(notebook, profile)
    if not path.exists():
        raise SubmissionError(
            f"no executed notebook {path}; run `make report PROFILE={profile}` "
            f"(or python -m helpers.runner --profile {profile}) first"
        )
    return nbformat.read(str(path), as_version=4)


def answer_code_cells(spec: Assignment) -> list:
    """A 'Code' section: the source of the answer's models and backprop, one code cell each."""
    import importlib

    cells = [
        nbformat.v4.new_markdown_cell(
            "# Code of the answer\n\nThe models (and, for 001, the hand-written backward passes) exactly as the "
            "notebooks ran them, from the workbook's `helpers` package."
        )
    ]
    for ref in spec.answer_code:
        module, name = ref.split(":")
        obj = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
        cells.append(nbformat.v4.new_markdown_cell(f"## `{name}` ({module})"))
        cells.append(nbformat.v4.new_code_cell(inspect.getsource(obj).rstrip(), metadata={"tags": [SHOW_INPUT_TAG]}))
    return cells


def assignment_notebook(code: str, profile: str, student: Student) -> nbformat.NotebookNode:
    """One document for assignment ``code``: summary, its items in order, the answer code."""
    from .report import clean_outputs, summary_markdown

    spec = ASSIGNMENTS[code]
    merged = nbformat.v4.new_notebook()
    for name in spec.notebooks:
        merged.cells.extend(clean_outputs(executed(name, profile)).cells)
    merged, _ = SelectItems(assignment=code, promote_headings=True).preprocess(merged, {})
    metrics = [metrics_path(name, profile) for name in spec.notebooks]
    summary = summary_markdown(
        [m for m in metrics if m.exists()],
        keep=lambda key: assignment_of(key) == code,
        heading=f"# Summary of assignment {code}",
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(summary), *merged.cells, *answer_code_cells(spec)]
    nb.metadata.update(
        {
            "title": f"{code} · {spec.title}",
            "authors": [{"name": f"{', '.join(student.names)} · profile {profile}"}],
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        }
    )
    return nb


def selected_notebook(name: str, code: str, profile: str) -> nbformat.NotebookNode:
    """Executed notebook ``name`` cut down to its preamble and assignment ``code``'s sections."""
    nb, _ = SelectItems(assignment=code, keep_preamble=True).preprocess(executed(name, profile), {})
    return nb


def assignment_pdf_job(code: str, profile: str, student: Student, target: Path) -> tuple:
    """``(notebook, target, options)`` of assignment ``code``'s document (``.pdf``; ``.html`` without
    LaTeX) for ``report.export_all``."""
    nb = assignment_notebook(code, profile, student)
    cells = []
    for cell in nb.cells:  # listings in a smaller font, so 100-character lines fit
        shown = cell.cell_type == "code" and SHOW_INPUT_TAG in cell.metadata.get("tags", [])
        cells += (
            [
                nbformat.v4.new_raw_cell("\\begingroup\\footnotesize", metadata={"raw_mimetype": "text/latex"}),
                cell,
                nbformat.v4.new_raw_cell("\\endgroup", metadata={"raw_mimetype": "text/latex"}),
            ]
            if shown
            else [cell]
        )
    nb.cells = cells
    return nb, target.with_suffix(""), {"preprocessors": [HideCode()], "prompts": False}


# --------------------------------------------------------------------------- course scripts (002)


@dataclass(frozen=True)
class CourseScript:
    """A standalone 002 script: the helpers objects it is made of and what it trains and saves."""

    item: str
    sources: tuple[str, ...]  # "module:name", pasted in this order
    task: str  # "classification" or "reconstruction"
    loss: str  # an nn loss class name
    saves: tuple[tuple[str, str], ...]  # (file name, model constructor expression)
    epochs: int
    batch_size: int


COURSE_SCRIPTS: dict[str, CourseScript] = {
    "prob4_CNN.py": CourseScript(
        "002.P4.2",
        ("helpers.training:classification_step", "helpers.models.classifiers:FortyFilterCNN"),
        "classification",
        "CrossEntropyLoss",
        (("mnist_cnn.pt", "FortyFilterCNN()"),),
        5,
        64,
    ),
    "prob5_AE.py": CourseScript(
        "002.P5.4",
        (
            "helpers.training:reconstruction_step",
            "helpers.models.composite:EncoderHead",
            "helpers.models.autoencoders:MLPAutoencoder",
        ),
        "reconstruction",
        "MSELoss",
        (("mnist_ae.pt", "MLPAutoencoder()"),),
        10,
        128,
    ),
    "prob6_CAE.py": CourseScript(
        "002.P6.1-P6.2",
        ("helpers.training:reconstruction_step", "helpers.models.autoencoders:ConvAutoencoder2D"),
        "reconstruction",
        "MSELoss",
        (("mnist_cae.pt", "ConvAutoencoder2D(skip=False)"), ("mnist-cae-skip.pt", "ConvAutoencoder2D(skip=True)")),
        10,
        128,
    ),
}

_SCRIPT_TEMPLATE = '''"""{name}: assignment 002 ({item}), trains on MNIST and saves {files}.

    python {name} --help
    python {name} --epochs {epochs} --data ./data      # downloads MNIST into ./data/MNIST/raw

Generated by the workbook's helpers/submission.py from the helpers package (the same model
classes and batch step the notebooks use); needs only torch and torchvision. Each saved file is
a dictionary whose "model" entry is the model's state dict.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

# ---- from the workbook's helpers ({modules})

{sources}

# ---- data, loop and command line

MODELS = {{{models}}}


def mnist(root: str, train: bool, limit: int):
    """torchvision MNIST (downloaded into root/MNIST/raw when missing), the first `limit` images."""
    from torchvision import datasets, transforms

    data = datasets.MNIST(root, train=train, download=True, transform=transforms.ToTensor())
    return torch.utils.data.Subset(data, range(min(limit, len(data)))) if limit else data


def run_epoch(model, loader, loss_fn, optimizer=None):
    """One pass over loader: mean loss and accuracy (classifiers); trains when given an optimizer."""
    model.train(optimizer is not None)
    total, correct, count = 0.0, 0, 0
    with torch.set_grad_enabled(optimizer is not None):
        for batch in loader:
            loss, extra = {step}(model, batch, loss_fn)
            if optimizer is not None:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            total, count = total + loss.item() * len(batch[0]), count + len(batch[0])
            correct += extra.get("correct", 0)
    return total / count, correct / count


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default={epochs}, help="training epochs (default {epochs})")
    parser.add_argument("--data", default="./data", help="MNIST root folder (default ./data)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N training and test images")
    parser.add_argument("--batch-size", type=int, default={batch_size})
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=".", help="folder for the saved model(s)")
    parser.add_argument("--only", choices=sorted(MODELS), help="train one of the models only")
    args = parser.parse_args(argv)
    train, test = mnist(args.data, True, args.limit), mnist(args.data, False, args.limit)
    for file, make in MODELS.items():
        if args.only and file != args.only:
            continue
        torch.manual_seed(args.seed)
        model, loss_fn = make(), nn.{loss}()
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
        loader = torch.utils.data.DataLoader(train, batch_size=args.batch_size, shuffle=True)
        for epoch in range(1, args.epochs + 1):
            train_loss, train_acc = run_epoch(model, loader, loss_fn, optimizer)
            test_loss, test_acc = run_epoch(model, torch.utils.data.DataLoader(test, batch_size=1000), loss_fn)
            accuracy = f", test accuracy {{test_acc:.2%}}" if "{task}" == "classification" else ""
            print(f"{{file}} epoch {{epoch}}/{{args.epochs}}: train loss {{train_loss:.4f}}, "
                  f"test loss {{test_loss:.4f}}{{accuracy}}", flush=True)
        path = Path(args.out) / file
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({{"model": model.state_dict(),
                    "config": json.dumps({{"epochs": args.epochs, "limit": args.limit, "seed": args.seed}})}}, path)
        print(f"saved {{path}}")


if __name__ == "__main__":
    main()
'''


def course_script(name: str) -> str:
    """The source of course script ``name`` (a key of :data:`COURSE_SCRIPTS`), checked to compile."""
    import importlib

    spec = COURSE_SCRIPTS[name]
    sources, modules = [], []
    for ref in spec.sources:
        module, attr = ref.split(":")
        sources.append(inspect.getsource(getattr(importlib.import_module(module), attr)).rstrip())
        modules.append(ref)
    step = f"{spec.task}_step"
    text = _SCRIPT_TEMPLATE.format(
        name=name,
        item=spec.item,
        files=", ".join(f for f, _ in spec.saves),
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        modules=", ".join(modules),
        sources="\n\n\n".join(sources),
        models=", ".join(f'"{f}": lambda: {make}' for f, make in spec.saves),
        step=step,
        loss=spec.loss,
        task=spec.task,
    )
    compile(text, name, "exec")
    return text


def write_course_scripts(folder: Path) -> list[Path]:
    """Write ``prob4_CNN.py``, ``prob5_AE.py``, ``prob6_CAE.py`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in COURSE_SCRIPTS:
        path = folder / name
        path.write_text(course_script(name))
        written.append(path)
    return written


# --------------------------------------------------------------------------- the folders


def _zip(target: Path, members: dict[str, Path]) -> Path:
    """Write ``target`` holding ``members`` (name in archive -> file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for arcname, path in members.items():
            archive.write(path, arcname)
    return target


def _code_files() -> dict[str, Path]:
    """The helpers package and requirements, as ``code/...`` archive members."""
    files = {
        f"code/{p.relative_to(REPO_ROOT)}": p
        for p in sorted((REPO_ROOT / "helpers").rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }
    files["code/requirements.txt"] = REPO_ROOT / "requirements.txt"
    return files


def _model_file(profile: str, name: str) -> Path:
    """A model file notebook 02 saved (``mnist_ae.pt`` ...) in ``profile``."""
    path = run_models_dir("02_autoencoders", profile) / name
    if not path.exists():
        raise SubmissionError(
            f"{path} is missing; run notebook 02 in profile {profile} first "
            f"(python -m helpers.runner --profile {profile} 02_autoencoders)"
        )
    return path


def pdf_target(code: str, student: Student, folder: Path) -> Path:
    """Where assignment ``code``'s document goes in its submission folder (the name its text asks for)."""
    ln = student.lastname_initials
    return {
        "000": folder / f"ex2_{'_'.join(student.ids)}" / "ex2.pdf",
        "001": folder / f"{student.roll_number}-hw4.pdf",
        "002": folder / f"452_{ln}_assignment2.pdf",
        "003": folder / f"{ln}_homework2.pdf",
        "004": folder / f"PW12_{ln}" / "report.pdf",
    }[code]


def build_submission(profile: str, student: Student, out: Path, only: Sequence[str] = ()) -> dict[str, list[Path]]:
    """Write ``out/<assignment>/`` for each assignment (or ``only`` those); the files written per assignment."""
    from .report import export_all

    out = Path(out)
    codes = list(only or ASSIGNMENTS)
    for code in codes:
        if (out / code).exists():
            shutil.rmtree(out / code)
        (out / code).mkdir(parents=True)
    # The documents first, built side by side (report.export_all), then the files around them.
    jobs = [assignment_pdf_job(code, profile, student, pdf_target(code, student, out / code)) for code in codes]
    pdfs = dict(zip(codes, export_all(jobs)))
    written: dict[str, list[Path]] = {}
    for code in codes:
        folder, pdf = out / code, pdfs[code]
        files: list[Path] = []
        if code == "000":
            stage = pdf.parent  # ex2_<ids>/
            readme = stage / "README.txt"
            readme.write_text(
                "Exercise 2: classifying and encoding models for MNIST\n\n"
                + "\n".join(f"{n} ({u}), ID {i}" for n, u, i in zip(student.names, student.usernames, student.ids))
                + "\n\nex2.pdf: theory answers and the practical part. code/: the workbook's helpers package; "
                "code/notebooks/: the executed notebooks.\n"
            )
            members = {pdf.name: pdf, "README.txt": readme, **_code_files()}
            for name in ASSIGNMENTS[code].notebooks:
                path = stage / "code" / "notebooks" / f"{name}.ipynb"
                path.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(selected_notebook(name, code, profile), str(path))
                members[f"code/notebooks/{name}.ipynb"] = path
            files += [pdf, readme, _zip(folder / f"{stage.name}.zip", members)]
        elif code == "001":
            notebook = pdf.with_suffix(".ipynb")  # <roll number>-hw4
            nbformat.write(selected_notebook("01_cnn_classifier", code, profile), str(notebook))
            files += [notebook, pdf]
        elif code == "002":
            ln = student.lastname_initials
            files.append(pdf)
            files += write_course_scripts(folder)
            for name in ("mnist_ae.pt", "mnist_cae.pt", "mnist-cae-skip.pt"):
                files.append(Path(shutil.copy2(_model_file(profile, name), folder / name)))
            notebook = folder / f"{ln}_assignment2.ipynb"
            nbformat.write(assignment_notebook(code, profile, student), str(notebook))
            files.append(notebook)
        elif code == "003":
            files.append(pdf)
        elif code == "004":
            stage = pdf.parent  # PW12_<initials>/
            members = {pdf.name: pdf}
            for name in ASSIGNMENTS[code].notebooks:
                path = stage / f"{name}.ipynb"
                nbformat.write(selected_notebook(name, code, profile), str(path))
                members[path.name] = path
            files += [*members.values(), _zip(folder / f"{stage.name}.zip", members)]
        written[code] = files
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: build the submission folders of one profile's executed notebooks."""
    parser = argparse.ArgumentParser(prog="python -m helpers.submission", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "submission")
    parser.add_argument(
        "--config",
        type=Path,
        help="TOML file with a [student] table (names, ids, usernames, roll_number, lastname_initials)",
    )
    parser.add_argument("--only", nargs="*", default=[], choices=sorted(ASSIGNMENTS), help="these assignments only")
    parser.add_argument("--scripts-only", type=Path, metavar="DIR", help="only write the three course scripts to DIR")
    args = parser.parse_args(argv)
    if args.scripts_only:
        for path in write_course_scripts(args.scripts_only):
            print(path)
        return 0
    try:
        student = Student.from_toml(args.config) if args.config else Student()
        written = build_submission(args.profile, student, args.out, args.only)
    except SubmissionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for code, files in written.items():
        for path in files:
            print(f"{code}: {path.relative_to(args.out) if path.is_relative_to(args.out) else path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
