"""Move allocate's modules onto their floors, and rewrite module paths to match (re-runnable).

    python tools/floors.py move                 # git mv each module still at its old path
    python tools/floors.py rewrite PATH...      # old module paths -> new ones in .py and .md files
    python tools/floors.py names PATH...        # imports of names that moved between modules

`move` and `rewrite` are the one-off restructuring of issue 21 (docs/architecture.md lists the
mapping); `rewrite` and `names` also bring code written against the old layout (e.g. a branch
merged later) up to date: both change nothing that is already up to date. After `names`, run
``ruff check --fix --select I`` to sort the imports it splits.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "allocate"

MODULES: dict[str, str] = {
    # domain: the round as validated data, its rules, and plain-Python accounting
    "errors": "domain.errors",
    "schema": "domain.schema",
    "money": "domain.money",
    "model": "domain.model",
    "rules": "domain.rules",
    "commitments": "domain.commitments",
    "tally": "domain.tally",
    "columns": "domain.columns",
    "candidates": "domain.candidates",
    "columnar": "domain.columnar",
    "screen": "domain.screen",
    "io.frames": "domain.frames",
    # engine: compile, solve, check, certify
    "compile": "engine.compile",
    "backends": "engine.backends",
    "backends.base": "engine.backends.base",
    "backends.cpsat": "engine.backends.cpsat",
    "backends.highs": "engine.backends.highs",
    "backends.lp": "engine.backends.lp",
    "backends.stop": "engine.backends.stop",
    "verify": "engine.verify",
    "bound": "engine.bound",
    "construct": "engine.construct",
    "finish": "engine.finish",
    "certify": "engine.certify",
    "solve": "engine.solve",
    "greedy": "engine.greedy",
    "options": "engine.options",
    "result": "engine.result",
    "conflict": "engine.conflict",
    # presentation: words, summaries, frames, pages
    "wording": "presentation.wording",
    "summary": "presentation.summary",
    "notebook": "presentation.notebook",
    "outcomes": "presentation.outcomes",
    "report": "presentation.report",
    "whatif_page": "presentation.whatif_page",
    "progress": "presentation.progress",
    # io: files
    "proxies": "io.proxies",
}
"""Old module (under ``allocate.``) -> new module. analysis/, io/ (but frames), scenarios/ and
cli stay where they are."""

PUBLIC_FUNCTIONS = {"solve", "verify", "whatif_page"}
"""Old modules that are also public functions of `allocate` (``allocate.solve``): in prose, only
``allocate.solve.x`` or a quoted module name is a module path."""

NAMES: dict[tuple[str, str], str] = {
    **{
        ("allocate.domain.model", name): "allocate.domain.parts"
        for name in (
            "SOCIAL_OBJECTIVES", "District", "ClientGroup", "Variant", "PanelScores", "Application",
            "Organisation", "Budget", "ValueForm", "Weights", "ScoreScale", "Attribution",
        )
    },
    ("allocate.domain.commitments", "Commitment"): "allocate.domain.parts",
    ("allocate.domain.commitments", "CountsToward"): "allocate.domain.parts",
    ("allocate.domain.commitments", "commitments_from"): "allocate.engine.carry_over",
    ("allocate.analysis.whatif", "as_weights"): "allocate.domain.parts",
    ("allocate.engine.compile", "ArrayLike"): "allocate.domain.rows",
    ("allocate.domain.rules", "RowUnit"): "allocate.domain.rows",
    **{
        ("allocate.presentation.outcomes", name): "allocate.presentation.outcome_table"
        for name in ("Outcome", "Reason", "COLUMNS", "table", "frame", "summary")
    },
}  # fmt: skip
"""(module, name) -> the module the name moved to, after the modules moved (docs/architecture.md)."""

SUBMODULES: dict[tuple[str, str], str] = {
    ("allocate", old): "allocate." + new.rpartition(".")[0]
    for old, new in MODULES.items()
    if "." not in old and old not in PUBLIC_FUNCTIONS  # `from allocate import solve`: the function
}
"""``from allocate import schema`` (a module) -> ``from allocate.domain import schema``."""

PACKAGES = {
    "domain": '"""The domain: a grants round as validated, immutable data, its rules, and their accounting."""\n',
    "engine": '"""The engine: a Problem compiled, solved by a backend, verified, certified; the Allocation."""\n',
    "presentation": '"""Presentation: an allocation in words, summaries, notebook frames, reports and pages."""\n',
}



def move() -> None:
    for package, doc in PACKAGES.items():
        init = SRC / package / "__init__.py"
        if not init.exists():
            init.parent.mkdir(exist_ok=True)
            init.write_text(doc, encoding="utf-8")
            subprocess.run(["git", "add", str(init)], check=True, cwd=ROOT)
    for old, new in MODULES.items():
        if old.startswith("backends."):
            continue  # moved with the package
        src = SRC / old.replace(".", "/") if old == "backends" else SRC / (old.replace(".", "/") + ".py")
        dst = SRC / new.replace(".", "/") if old == "backends" else SRC / (new.replace(".", "/") + ".py")
        if src.exists() and not dst.exists():
            subprocess.run(["git", "mv", str(src), str(dst)], check=True, cwd=ROOT)


_OLD = "|".join(re.escape(m) for m in sorted(MODULES, key=len, reverse=True))
_DOTTED = re.compile(rf"(?<![\w.])allocate\.({_OLD})(?![\w])")


def _rewrite_text(text: str) -> str:
    def dotted(m: re.Match[str]) -> str:
        old = m.group(1)
        if old in PUBLIC_FUNCTIONS:
            line_start = text.rfind("\n", 0, m.start()) + 1
            line = text[line_start : text.find("\n", m.end()) if "\n" in text[m.end() :] else len(text)]
            after = text[m.end() : m.end() + 2]
            before = text[m.start() - 1 : m.start()] if m.start() else ""
            code = re.match(r"\s*(from|import)\s", line) is not None
            quoted = before != "" and before in "\"'" and after[:1] in ("\"", "'")
            if not (code or quoted or re.match(r"\.\w", after)):
                return m.group(0)
        return f"allocate.{MODULES[old]}"

    return _DOTTED.sub(dotted, text)


def _files(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += [f for f in sorted(p.rglob("*")) if f.suffix in (".py", ".md") and ".venv" not in f.parts]
        elif p.suffix in (".py", ".md"):
            out.append(p)
    return [f for f in out if f.resolve() != Path(__file__).resolve()]


def rewrite(paths: list[str]) -> None:
    for f in _files(paths):
        text = f.read_text(encoding="utf-8")
        new = _rewrite_text(text)
        if new != text:
            f.write_text(new, encoding="utf-8")
            print(f"rewrote {f}")
    names(paths, SUBMODULES)


def _split_import(node: ast.ImportFrom, indent: str, table: dict[tuple[str, str], str]) -> str | None:
    """The import statement(s) for `node` with moved names imported from where they are now."""
    module = node.module or ""
    groups: dict[str, list[str]] = {}
    for alias in node.names:
        target = table.get((module, alias.name), module)
        text = alias.name if alias.asname is None else f"{alias.name} as {alias.asname}"
        groups.setdefault(target, []).append(text)
    if list(groups) == [module]:
        return None
    return "\n".join(f"{indent}from {m} import {', '.join(names)}" for m, names in groups.items())


def names(paths: list[str], table: dict[tuple[str, str], str] = NAMES) -> None:
    for f in _files(paths):
        if f.suffix != ".py":
            continue
        text = f.read_text(encoding="utf-8")
        lines = text.splitlines(keepends=True)
        edits = []
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.end_lineno is not None:
                indent = re.match(r"\s*", lines[node.lineno - 1]).group()  # type: ignore[union-attr]
                new = _split_import(node, indent, table)
                if new is not None:
                    edits.append((node.lineno - 1, node.end_lineno, new + "\n"))
        for start, end, new in sorted(edits, reverse=True):
            lines[start:end] = [new]
        if edits:
            f.write_text("".join(lines), encoding="utf-8")
            print(f"split imports in {f}")


if __name__ == "__main__":
    command, *args = sys.argv[1:] or ["help"]
    if command == "move":
        move()
    elif command == "rewrite":
        rewrite(args)
    elif command == "names":
        names(args)
    else:
        print(__doc__)
