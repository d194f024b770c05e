"""Props tables of the construct pages, generated from the code so that docs and code cannot drift.

Every public construct (its constructor), every public factory of an option object
(``TrackingDatabase.aurora_serverless``, ``Listener.https``, ``EndpointVariant.serverless``, ...) and every
public value class without factories (``ExistingDatabase``, ``Autoscaling``, ``MlflowTrainingConfig``, ...)
exported by ``mlflow_sagemaker_constructs`` is a *target*. Its table is built from the signature (names,
type hints, which parameters are required) and the ``:param name:`` lines of its docstring, whose
``Default: ...`` sentence fills the default column. A page shows a table between two markers::

    <!-- props:TrackingDatabase.aurora_serverless -->
    (generated: do not edit)
    <!-- /props -->

Usage::

    ./dev shell python scripts/props_tables.py          # rewrite every marked region under docs/
    ./dev shell python scripts/props_tables.py --check  # exit 1 on a stale region or a docstring problem

``tests/test_props_tables.py`` runs the same checks, and the mkdocs hook renders the regions afresh when the
site is built. The docstring rules (:func:`problems`): every parameter has a ``:param:``; an optional one
says ``Default: ...``, a required one does not; no ``:param:`` names a parameter that does not exist; a
literal default (number, bool, string, enum member) appears in the ``Default:`` text; every target has a
table on some page, and every marker names a target.
"""

from __future__ import annotations

import argparse
import enum
import importlib
import inspect
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCS_DIR = REPO_ROOT / "docs"
PACKAGE = "mlflow_sagemaker_constructs"

#: ``<!-- props:NAME -->`` ... ``<!-- /props -->``; the content in between is generated.
REGION = re.compile(r"(?P<open><!-- props:(?P<name>[\w.]+) -->\n)(?P<body>.*?)(?P<close><!-- /props -->)", re.DOTALL)
GENERATED_NOTE = (
    "<!-- generated from the signature and docstring by scripts/props_tables.py: edit the docstring, then run it -->"
)
#: Parameters of a construct's constructor that are not props.
_NOT_PROPS = {"self", "scope", "construct_id"}
#: Exports that are not classes with props.
_SKIPPED_EXPORTS = {"IMlflowTrackingServer"}


@dataclass(frozen=True)
class Target:
    """A callable with a props table: a constructor or a factory."""

    name: str  # "SecureMlflowService" or "TrackingDatabase.aurora_serverless"
    function: Callable[..., Any]
    doc: str
    #: A construct's constructor: its parameters are props.
    is_construct: bool = False


@dataclass(frozen=True)
class Prop:
    name: str
    type: str
    required: bool
    positional: bool
    signature_default: Any
    description: str
    default: str | None


def _package() -> Any:
    if str(REPO_ROOT / "src") not in sys.path:
        sys.path.insert(0, str(REPO_ROOT / "src"))
    return importlib.import_module(PACKAGE)


def _has_params(doc: str | None) -> bool:
    return bool(doc) and ":param " in (doc or "")


def targets() -> dict[str, Target]:
    """Every target of the public API, by marker name."""
    package = _package()
    found: dict[str, Target] = {}
    for export in sorted(package.__all__):
        obj = getattr(package, export)
        if not inspect.isclass(obj) or issubclass(obj, enum.Enum | dict) or export in _SKIPPED_EXPORTS:
            continue
        factories = {
            attr: value.__func__
            for attr, value in vars(obj).items()
            if isinstance(value, staticmethod | classmethod) and not attr.startswith("_")
        }
        for attr, function in factories.items():
            found[f"{export}.{attr}"] = Target(f"{export}.{attr}", function, inspect.getdoc(function) or "")
        from constructs import Construct

        if issubclass(obj, Construct) or not factories:
            init_doc = inspect.getdoc(obj.__init__) if "__init__" in vars(obj) else None
            doc = init_doc if _has_params(init_doc) else inspect.getdoc(obj)
            constructor = obj.__init__ if "__init__" in vars(obj) else obj
            found[export] = Target(export, constructor, doc or "", is_construct=issubclass(obj, Construct))
    return found


# ---------------------------------------------------------------------------------------------- docstrings

_ROLE = re.compile(r":(?:class|meth|func|attr|data|obj|mod|exc):`~?(?:[\w.]+\.)?([^`]+?)`")
_SENTENCE_END = re.compile(r"(?<!e\.g)(?<!i\.e)(?<!etc)\.\s+(?=[A-Z`(\"])")


def to_markdown(text: str) -> str:
    """Sphinx inline markup to Markdown, on one line, safe inside a table cell (``|`` is escaped, and
    refused inside code, where GitHub and mkdocs disagree on the escape)."""
    text = _ROLE.sub(r"`\1`", text)
    text = text.replace("``", "`")
    text = " ".join(text.split())
    if any("|" in code for code in re.findall(r"`([^`]*)`", text)):
        raise ValueError(f"a '|' inside code cannot be shown in a table cell: reword {text!r}")
    return text.replace("|", "\\|")


def param_docs(doc: str) -> dict[str, str]:
    """``:param name: text`` of a docstring (continuation lines joined), in Markdown."""
    params: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in doc.splitlines():
        match = re.match(r"^\s*:param (?:[\w\[\], |.]+ )?(\w+):(.*)$", line)
        if match:
            current = params.setdefault(match.group(1), [])
            current.append(match.group(2))
        elif current is not None and line.startswith((" ", "\t")) and line.strip():
            current.append(line)
        else:
            current = None
    return {name: to_markdown(" ".join(lines)) for name, lines in params.items()}


def split_default(text: str) -> tuple[str, str | None]:
    """``"what it is. Default: X. More."`` -> (``"what it is. More."``, ``"X"``)."""
    head, marker, tail = text.partition("Default:")
    if not marker:
        return text.strip(), None
    tail = tail.strip()
    end = _SENTENCE_END.search(tail)
    default, rest = (tail[: end.start()], tail[end.end() :]) if end else (tail, "")
    default = default.strip().removesuffix(".")
    description = " ".join(part for part in (head.strip(), rest.strip()) if part)
    return description, default


def _type(annotation: Any, default_is_none: bool) -> str:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    if text is inspect.Parameter.empty or text == "_empty":
        return ""
    if default_is_none:
        text = re.sub(r"\s*\|\s*None$", "", text)
    return text


def props(target: Target) -> list[Prop]:
    """The target's parameters, documented."""
    docs = param_docs(target.doc)
    result = []
    for parameter in inspect.signature(target.function).parameters.values():
        if parameter.name in _NOT_PROPS or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        description, default = split_default(docs.get(parameter.name, ""))
        required = parameter.default is inspect.Parameter.empty
        result.append(
            Prop(
                name=parameter.name,
                type=_type(parameter.annotation, parameter.default is None),
                required=required,
                positional=parameter.kind is not parameter.KEYWORD_ONLY,
                signature_default=parameter.default,
                description=description,
                default=default,
            )
        )
    return result


# ---------------------------------------------------------------------------------------------- tables


def render(target: Target) -> str:
    """The Markdown table of one target (without the markers)."""
    if not props(target):
        return f"{GENERATED_NOTE}\n\n`{target.name}()` takes no parameters.\n"
    header = "prop" if target.is_construct else "parameter"
    rows = [GENERATED_NOTE, "", f"| {header} | type | default | description |", "| --- | --- | --- | --- |"]
    for prop in props(target):
        name = f"`{prop.name}`" + (" (positional)" if prop.positional else "")
        # Each alternative of a union in its own code span: a pipe inside a code span breaks the table in one
        # renderer or shows a backslash in the other.
        kind = " or ".join(f"`{part.strip()}`" for part in prop.type.split("|")) if prop.type else ""
        default = "**required**" if prop.required else (prop.default or "")
        rows.append(f"| {name} | {kind} | {default} | {prop.description} |")
    return "\n".join(rows) + "\n"


def render_regions(markdown: str, known: dict[str, Target]) -> str:
    """``markdown`` with every props region regenerated; an unknown name raises ``KeyError``."""

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in known:
            raise KeyError(f"<!-- props:{name} --> names no construct or factory of {PACKAGE}")
        return f"{match.group('open')}{render(known[name])}{match.group('close')}"

    return REGION.sub(replace, markdown)


def pages() -> list[Path]:
    return sorted(DOCS_DIR.rglob("*.md"))


def stale_pages(known: dict[str, Target]) -> Iterator[tuple[Path, str]]:
    """``(page, regenerated text)`` of every page whose regions are not what the code says."""
    for page in pages():
        text = page.read_text(encoding="utf-8")
        fresh = render_regions(text, known)
        if fresh != text:
            yield page, fresh


# ---------------------------------------------------------------------------------------------- checks


def _literal_in(value: Any, text: str) -> bool:
    """Whether the docstring's default text names the signature's literal default ``value``."""
    if isinstance(value, enum.Enum):
        words = {value.name, value.name.replace("_", " "), str(value.value)}
        return any(word.lower() in text.lower() for word in words)
    if isinstance(value, bool):
        return str(value) in text
    if isinstance(value, int | float):
        number = f"{value:g}" if isinstance(value, float) else str(value)
        return re.search(rf"(?<![\w.]){re.escape(number)}(?![\w]|\.\d)", text.replace(",", "")) is not None
    if isinstance(value, str):
        return value in text
    return True  # None, tuples and objects: their meaning is in the text


def problems(known: dict[str, Target] | None = None) -> list[str]:
    """Docstring and coverage problems, one message each."""
    known = known if known is not None else targets()
    found: list[str] = []
    for target in known.values():
        names = set()
        for prop in props(target):
            names.add(prop.name)
            where = f"{target.name}({prop.name})"
            if not prop.description and prop.default is None:
                found.append(f"{where}: no ':param {prop.name}:' in the docstring")
            elif prop.required and prop.default is not None:
                found.append(f"{where}: required, but the docstring says 'Default: {prop.default}'")
            elif not prop.required and prop.default is None:
                found.append(f"{where}: optional, but its ':param {prop.name}:' says no 'Default: ...'")
            elif not prop.required and not _literal_in(prop.signature_default, prop.default or ""):
                found.append(
                    f"{where}: the signature's default {prop.signature_default!r} is not in the docstring's "
                    f"'Default: {prop.default}'"
                )
        for documented in sorted(set(param_docs(target.doc)) - names):
            found.append(f"{target.name}: ':param {documented}:' names no parameter")
    shown = {match.group("name") for page in pages() for match in REGION.finditer(page.read_text(encoding="utf-8"))}
    for name in sorted(set(known) - shown):
        found.append(f"{name}: no page has a '<!-- props:{name} -->' region")
    for name in sorted(shown - set(known)):
        found.append(f"<!-- props:{name} -->: names no construct or factory of {PACKAGE}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when anything is stale")
    args = parser.parse_args(argv)
    known = targets()
    issues = problems(known)
    for issue in issues:
        print(f"docstring: {issue}", file=sys.stderr)
    stale = [] if any("names no construct" in issue for issue in issues) else list(stale_pages(known))
    for page, fresh in stale:
        if args.check:
            print(f"stale props table: {page.relative_to(REPO_ROOT)}", file=sys.stderr)
        else:
            page.write_text(fresh, encoding="utf-8")
            print(f"rewrote {page.relative_to(REPO_ROOT)}")
    return 1 if issues or (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
