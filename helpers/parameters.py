"""One set of effective parameters per run, whichever way a notebook runs (introduced in 01).

Every notebook starts with a papermill ``parameters`` cell; ``notebooks/profiles/<notebook>.toml``
holds the same values under ``[default]`` (a test keeps the two equal) and the values that the
``smoke`` and ``full`` profiles change. The setup call of each notebook
(``helpers.notebook.start_notebook``) resolves them inside the kernel, so JupyterLab, plain
papermill, ``jupyter execute``/nbclient and ``python -m helpers.runner`` all run the same workload:

1. the profile named by ``profile`` (the parameters cell, papermill's ``-p profile smoke``, ...);
2. its values replace the defaults;
3. a parameter given explicitly wins over the profile: one injected by papermill (the runner's
   ``-p``, ``papermill -p`` / ``-f params.yaml``) or one whose value in the parameters cell
   differs from the shipped default (an edit in JupyterLab).

Every value is checked before any work: its type against the default (an int stays an int, a
list stays a list, a float where an int is declared is refused), its range (epochs, batch sizes,
subset limits, learning rates, ...) and data set names against the registry. Errors name the
parameter, the value given and what is accepted.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Callable, Mapping
from typing import Any

from .paths import PROFILES, profile_file

N_CLASSES = 10  # every in-memory data set of the workbook has 10 classes
INJECTED_HEADER = "# Parameters"  # first line of papermill's injected-parameters cell


class ParameterError(ValueError):
    """A parameter is unknown, of the wrong type or out of range; the message names it and the fix."""


# --------------------------------------------------------------------------- profiles


def load_profiles(notebook: str) -> dict[str, dict[str, Any]]:
    """The ``[smoke]``, ``[default]`` and ``[full]`` tables of the notebook's profile file (01)."""
    path = profile_file(notebook)
    if not path.exists():
        raise ParameterError(
            f"no profile file {path}; every notebook needs one with [smoke], "
            "[default] (all parameters) and [full] sections"
        )
    table = tomllib.loads(path.read_text())
    unknown = sorted(set(table) - set(PROFILES))
    if unknown:
        raise ParameterError(f"{path}: unknown profile section(s) {unknown}; use {', '.join(PROFILES)}")
    profiles = {name: dict(table.get(name, {})) for name in PROFILES}
    defaults = profiles["default"]
    for name in PROFILES:
        extra = sorted(set(profiles[name]) - set(defaults))
        if extra:
            raise ParameterError(f"{path}: [{name}] sets {extra}, which [default] does not declare")
    return profiles


def declared_defaults(notebook: str) -> dict[str, Any]:
    """Every parameter of the notebook with its shipped default value, ``profile`` first (01)."""
    return {"profile": "default", **load_profiles(notebook)["default"]}


# --------------------------------------------------------------------------- checks


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _known_dataset(value) -> bool:
    from .data import DATASETS

    return value in DATASETS


def _range_rules() -> list[tuple[str, Callable[[Any], bool], str]]:
    from .data import DATASETS

    counts = (
        r".*epochs|.*batch(_size|_sizes)?|.*latent(_dim)?|.*width|code_sizes?|budgets|.*per_class|"
        r"few_seeds|score_n|tsne_points|svm_train|denoise_train|steps|snapshot_every"
    )
    return [
        (r"profile", lambda v: v in PROFILES, f"one of {', '.join(PROFILES)}"),
        (r"seeds?", lambda v: v >= 0, "a whole number >= 0"),
        (
            r".*_limit",
            lambda v: v == 0 or v >= N_CLASSES,
            f"0 (keep every image) or at least {N_CLASSES}, the number of classes (a balanced subset "
            f"takes limit // {N_CLASSES} images of each class)",
        ),
        (r"few_labels", lambda v: v >= N_CLASSES, f"at least {N_CLASSES} (one label per class)"),
        (r".*lr", lambda v: v > 0, "a number > 0"),
        (r"sigma", lambda v: v > 0, "a number > 0 (a standard deviation)"),
        (r"grid_weight_decay", lambda v: v >= 0, "numbers >= 0"),
        (r"grid_dropout", lambda v: 0 <= v < 1, "numbers in [0, 1)"),
        (r".*dataset|.*_datasets", _known_dataset, f"a registered data set: {', '.join(DATASETS)}"),
        (counts, lambda v: v >= 1, "a whole number >= 1"),
    ]


def _describe(value: Any) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "a list"}.get(
        type(value), f"a {type(value).__name__}"
    )
    return f"{value!r} ({kind})"


def _typed(name: str, value: Any, default: Any) -> Any:
    """``value`` converted to the type of ``default`` where that loses nothing, else an error."""

    def wrong(expected: str) -> ParameterError:
        return ParameterError(
            f"parameter {name!r}: got {_describe(value)}; expected {expected} (the default is {default!r})"
        )

    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise wrong("True or False")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("a whole number such as 3 (no quotes, no decimal point, no leading zero)")
        return value
    if isinstance(default, float):
        if not _number(value):
            raise wrong("a number such as 0.001")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise wrong("a string in quotes")
        return value
    if isinstance(default, list):
        if not isinstance(value, (list, tuple)):
            raise wrong(f"a list such as {default!r}")
        if not value:
            raise wrong("a non-empty list")
        if default:
            element = float(default[0]) if any(isinstance(d, float) for d in default) else default[0]
            return [_typed(f"{name}[{i}]", item, element) for i, item in enumerate(value)]
        return list(value)
    return value


def check_parameter(name: str, value: Any, default: Any) -> Any:
    """The checked (and type-converted) value of one parameter, or a :class:`ParameterError` (01)."""
    value = _typed(name, value, default)
    for pattern, ok, accepted in _range_rules():
        if re.fullmatch(pattern, name):
            bad = [v for v in (value if isinstance(value, list) else [value]) if not ok(v)]
            if bad:
                raise ParameterError(f"parameter {name!r}: got {value!r}; accepted: {accepted}")
            break
    return value


def check_names(notebook: str, names, defaults: Mapping[str, Any]) -> None:
    """Refuse parameters the notebook does not declare, listing the declared ones (01)."""
    unknown = sorted(set(names) - set(defaults))
    if unknown:
        raise ParameterError(
            f"{notebook}: unknown parameter(s) {unknown}; its parameters cell declares {', '.join(defaults)}"
        )


# --------------------------------------------------------------------------- resolution


def resolve(notebook: str, given: Mapping[str, Any], explicit: set[str] | frozenset = frozenset()) -> dict[str, Any]:
    """The effective parameters: defaults, then the profile's values, then explicit ones (01).

    ``given`` holds the values the notebook saw (its globals); ``explicit`` names the ones given
    on purpose (injected by papermill). A value that differs from the shipped default also counts
    as explicit. Everything is checked; the result has every declared parameter.
    """
    defaults = declared_defaults(notebook)
    check_names(notebook, explicit, defaults)
    profile = given.get("profile", "default")
    check_parameter("profile", profile, "default")
    chosen = {
        name
        for name in defaults
        if name in given
        and (name in explicit or type(given[name]) is not type(defaults[name]) or given[name] != defaults[name])
    }
    profile_values = load_profiles(notebook)[profile]
    effective = {**defaults, **profile_values, **{name: given[name] for name in chosen}}
    source = {
        name: "given" if name in chosen else profile if name in profile_values else "default" for name in defaults
    }
    checked = {}
    for name, value in effective.items():
        try:
            checked[name] = check_parameter(name, value, defaults[name])
        except ParameterError as error:
            where = {"given": "", "default": " (the shipped default)"}.get(
                source[name], f" (from the [{source[name]}] section of {profile_file(notebook).name})"
            )
            raise ParameterError(f"{notebook}: {error}{where}") from None
    return checked


def injected_names(history: list[str] | None) -> set[str]:
    """Names assigned by papermill's injected cells since the parameters cell last ran (01).

    ``history`` is IPython's ``In`` list of executed cell sources. Papermill inserts a cell that
    starts with ``# Parameters`` after the ``parameters`` cell; its names are the explicit ones.
    """
    names: set[str] = set()
    for source in reversed(history or []):
        if not isinstance(source, str):
            continue
        if source.lstrip().startswith(INJECTED_HEADER):
            names |= _assigned_names(source)
        elif re.search(r"^profile\s*=", source, flags=re.M):
            break  # the parameters cell: older cells do not count
    return names


def _assigned_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def format_parameters(parameters: Mapping[str, Any], width: int = 100) -> str:
    """``name=value`` pairs wrapped to ``width`` characters, for the setup cell's printout (01)."""
    lines, line = [], ""
    for name, value in parameters.items():
        item = f"{name}={value!r}"
        if line and len(line) + len(item) + 2 > width:
            lines.append(line)
            line = ""
        line = f"{line}, {item}" if line else item
    return "\n".join(lines + [line])
