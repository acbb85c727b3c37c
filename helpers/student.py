"""Student copies of the notebooks: solutions replaced by stubs, outputs cleared (``make student``).

    python -m helpers.student                 # writes student/NN_name.ipynb for every notebook

The committed notebooks are the instructor's version. Their cells carry tags that nbconvert
preprocessors act on here:

- ``solution`` (code): replaced by a stub that states the task (the item heading above it and the
  names the cell must define) and raises ``NotImplementedError``;
- ``answer`` (markdown): a theory answer, replaced by the question: the cell's headings, quoted
  (``>``) lines and the bold lead-in of each paragraph (``**P2.1 One neuron ...**``), then a
  prompt; ``answer`` on a code cell (a generated discussion) becomes a prompt to discuss;
- outputs and execution counts are cleared with nbconvert's ``ClearOutputPreprocessor``.

Used for notebooks 01-05.
"""

from __future__ import annotations

import argparse
import ast
import re
from collections.abc import Sequence
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearOutputPreprocessor, Preprocessor

from .paths import REPO_ROOT, notebooks_dir

SOLUTION_TAG, ANSWER_TAG = "solution", "answer"
_BOLD_LEAD = re.compile(r"^(\*\*[^*]+\*\*)")


def defined_names(source: str) -> list[str]:
    """Top-level names a code cell assigns or defines (what later cells rely on)."""
    names: list[str] = []

    def targets(node):
        if isinstance(node, ast.Name):
            names.append(node.id)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for element in node.elts:
                targets(element)

    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                targets(target)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets(node.target)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.append(node.name)
    return list(dict.fromkeys(n for n in names if not n.startswith("_")))


def question_of(markdown: str) -> str:
    """The question part of a theory-answer cell: headings, quotes, bold lead-ins, then a prompt."""
    kept = []
    for paragraph in re.split(r"\n\s*\n", markdown):
        lines = paragraph.strip().split("\n")
        for line in lines:
            if line.startswith("#") or line.startswith(">"):
                kept.append(line)
        lead = _BOLD_LEAD.match(lines[0].lstrip("*- 0123456789.")) or _BOLD_LEAD.match(lines[0])
        if lead and not lines[0].startswith("#"):
            kept.append(lead.group(1))
    return "\n\n".join(kept + ["*Your answer:*"])


class StudentCopy(Preprocessor):
    """Replace ``solution`` code cells by task stubs and ``answer`` cells by their questions."""

    def preprocess(self, nb, resources):
        heading = "this step"
        cells = []
        for cell in nb.cells:
            tags = cell.get("metadata", {}).get("tags", [])
            if cell.cell_type == "markdown":
                found = [ln.lstrip("#").strip() for ln in cell.source.split("\n") if ln.startswith("## ")]
                heading = found[-1] if found else heading
            if SOLUTION_TAG in tags and cell.cell_type == "code":
                names = defined_names(cell.source)
                need = f" It must define {', '.join(names)}, which later cells use." if names else ""
                task = f"{heading}: write the code for this step as described above.{need}"
                cell = nbformat.v4.new_code_cell(
                    f"# Task {task}\nraise NotImplementedError({task!r})", metadata={"tags": [SOLUTION_TAG]}
                )
            elif ANSWER_TAG in tags:
                text = (
                    question_of(cell.source)
                    if cell.cell_type == "markdown"
                    else f"*Discuss the results above ({heading}) in your own words.*"
                )
                cell = nbformat.v4.new_markdown_cell(text, metadata={"tags": [ANSWER_TAG]})
            cells.append(cell)
        nb.cells = cells
        return nb, resources


def student_copy(path: Path) -> nbformat.NotebookNode:
    """The student version of the notebook at ``path``."""
    nb = nbformat.read(str(path), as_version=4)
    for step in (StudentCopy(), ClearOutputPreprocessor()):
        nb, _ = step.preprocess(nb, {})
    return nb


def write_student_copies(out: Path, names: Sequence[str] = ()) -> list[Path]:
    """Write ``out/NN_name.ipynb`` for each notebook (or those in ``names``)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sorted(notebooks_dir().glob("[0-9][0-9]_*.ipynb")):
        if names and source.stem not in names:
            continue
        target = out / source.name
        nbformat.write(student_copy(source), str(target))
        written.append(target)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write the student copies."""
    parser = argparse.ArgumentParser(prog="python -m helpers.student", description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebook names (default: all)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "student")
    args = parser.parse_args(argv)
    for path in write_student_copies(args.out, args.notebooks):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
