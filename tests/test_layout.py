"""The house: stages import only lower stages, command lines stay thin, no import hides in a function."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "elmo"
# The order the notebooks tell: a module may import its own stage and the stages before it.
STAGES = ("core", "data", "bilm", "embed", "ynat", "ablations", "senses", "probing", "report")
# Function-level imports that stay, and why: umap compiles with numba on first import (~19 s);
# the explorer's widget front end needs IPython/ipywidgets only inside a live kernel.
LAZY_OK = {("senses/figures.py", "umap"), ("senses/explorer.py", "IPython"), ("senses/explorer.py", "IPython.display"),
           ("senses/explorer.py", "ipywidgets")}


# Command lines inside a stage, and why: `python -m elmo.embed` (issue 15's command, what users
# of AllenNLP's `elmo` command look for) names the package elmo/embed/, so its command line can
# only be that package's __main__.py. It is held to the rules of elmo/*.py: a main() that parses
# and calls (elmo.embed.vectors does the work), and the stage's own import rule.
PACKAGE_COMMANDS = {"embed/__main__.py"}


def modules():
    return sorted(p for p in PACKAGE.rglob("*.py"))


def imported(node) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        return [node.module] if node.level == 0 else []
    return [a.name for a in node.names] if isinstance(node, ast.Import) else []


def stage_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "elmo" and len(parts) > 1 and parts[1] in STAGES else None


def test_stages_import_only_lower_stages():
    wrong = []
    for path in modules():
        rel = path.relative_to(PACKAGE)
        if len(rel.parts) == 1:
            continue  # command lines and the package root may import any stage
        own = STAGES.index(rel.parts[0])
        for node in ast.walk(ast.parse(path.read_text())):
            for mod in imported(node):
                stage = stage_of(mod)
                if (stage is not None and STAGES.index(stage) > own) or mod == "elmo":
                    wrong.append(f"{rel}:{node.lineno} imports {mod}")
    assert not wrong, "a stage imports a higher stage (or the package root):\n" + "\n".join(wrong)


def test_no_function_level_imports():
    hidden = []
    for path in modules():
        rel = str(path.relative_to(PACKAGE))
        for fn in ast.walk(ast.parse(path.read_text())):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    hidden += [f"{rel}:{node.lineno} {mod}" for mod in imported(node)
                               if (rel, mod) not in LAZY_OK and mod != "typing"]  # fmt: skip
    assert not hidden, "imports inside functions:\n" + "\n".join(hidden)


def test_the_layout_check_catches_a_backward_import(tmp_path):
    """The stage check is not vacuous: a core module importing the biLM fails it."""
    fake = tmp_path / "elmo"
    (fake / "core").mkdir(parents=True)
    (fake / "core" / "bad.py").write_text("from elmo.bilm.model import BiLM\n")
    globals()["PACKAGE"], saved = fake, PACKAGE
    try:
        with pytest.raises(AssertionError, match="core/bad.py:1 imports elmo.bilm.model"):
            test_stages_import_only_lower_stages()
    finally:
        globals()["PACKAGE"] = saved


def test_command_lines_are_top_level_and_thin():
    """Every `python -m elmo.X` is a top-level module whose functions only parse and call."""
    for path in PACKAGE.glob("*.py"):
        if path.name == "__init__.py":
            continue
        text = path.read_text()
        assert "def main(" in text and '__name__ == "__main__"' in text, path.name
    for path in PACKAGE.rglob("*/*.py"):
        rel = str(path.relative_to(PACKAGE))
        if rel in PACKAGE_COMMANDS:
            text = path.read_text()
            assert "def main(" in text and '__name__ == "__main__"' in text, rel
            continue
        assert 'if __name__ == "__main__"' not in path.read_text(), f"{path}: command lines live in elmo/*.py"
    assert all((PACKAGE / rel).exists() for rel in PACKAGE_COMMANDS)


def test_public_names_one_import_away():
    from elmo import BiLM, Elmo, ScalarMix, batch_to_ids, get_config

    assert get_config("tiny").profile == "tiny"
    assert all(callable(x) for x in (BiLM, Elmo, ScalarMix, batch_to_ids))
