"""Imports follow the arrows: no circle between packages, lower layers never import higher
ones (read from every import statement, also those inside functions), and light entry
points load only what they use."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "dubclr"

# Lowest first. A package may import only packages before it (the top-level modules errors,
# config, atomic, progress form the base). A package not listed is checked for circles only.
LAYERS = ["base", "checkpoint", "media", "synth", "data", "shards", "models", "train", "evaluate",
          "counterfactual", "hear", "cli", "__main__"]
BASE = {"errors", "config", "atomic", "progress", "dubclr"}


def unit(module: str) -> str:
    """``dubclr.data.loader`` -> ``data``; a top-level module is its own unit."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "dubclr"


def import_graph() -> dict[str, dict[str, str]]:
    """unit -> {imported unit: where (file:line)} from every import statement."""
    graph: dict[str, dict[str, str]] = {}
    for file in sorted(SRC.rglob("*.py")):
        rel = file.relative_to(SRC.parent).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        source = unit(module) if module != "dubclr" else "dubclr"
        edges = graph.setdefault(source, {})
        for node in ast.walk(ast.parse(file.read_text(), str(file))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                if name.startswith("dubclr.") and unit(name) != source:
                    edges.setdefault(unit(name), f"{file.relative_to(SRC)}:{node.lineno}")
    return graph


def find_circle(graph: dict[str, dict[str, str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return path[path.index(node):] + [node]
        if node in done:
            return None
        for nxt in graph.get(node, {}):
            found = visit(nxt, path + [node])
            if found:
                return found
        done.add(node)
        return None

    for start in graph:
        found = visit(start, [])
        if found:
            return found
    return None


def test_no_circle_between_packages():
    graph = import_graph()
    circle = find_circle(graph)
    where = [graph[a][b] for a, b in zip(circle, circle[1:])] if circle else []
    assert circle is None, f"import circle {' -> '.join(circle)} at {', '.join(where)}"


def test_lower_layers_never_import_higher_ones():
    def layer(name: str) -> int | None:
        return 0 if name in BASE else LAYERS.index(name) if name in LAYERS else None

    wrong = [f"{a} -> {b} ({where})" for a, edges in import_graph().items()
             for b, where in edges.items()
             if layer(a) is not None and layer(b) is not None and layer(b) > layer(a)]
    assert not wrong, "imports against the layers: " + "; ".join(wrong)


def test_the_graph_is_read_from_the_sources():
    graph = import_graph()  # the test above would pass on an empty graph
    assert {"data", "models", "train", "evaluate", "hear"} <= set(graph)
    assert "checkpoint" in graph["models"] and "models" in graph["train"]
    assert find_circle({"a": {"b": ""}, "b": {"c": ""}, "c": {"a": ""}}) == ["a", "b", "c", "a"]


def loaded_by(*statements: str) -> list[set[str]]:
    """The dubclr modules loaded after each statement, run in order in a fresh interpreter."""
    show = "print(' '.join(m for m in sys.modules if m.startswith('dubclr')))"
    code = "import sys\n" + "".join(f"{line}\n{show}\n" for line in statements)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [set(line.split()) for line in out.stdout.splitlines()]


def test_light_entry_points_load_only_what_they_use():
    after_hear, after_config = loaded_by("import dubclr.hear", "import dubclr.train.config")
    # the HEAR module: the model side and the audio front-end, nothing of the data path
    assert "dubclr.hear" in after_hear and "dubclr.data.transforms" in after_hear
    data_path = {m for m in after_hear if m.startswith(("dubclr.data.", "dubclr.media",
                                                        "dubclr.train", "dubclr.synth",
                                                        "dubclr.counterfactual"))}
    assert data_path == {"dubclr.data.transforms"}, sorted(data_path)
    # reading a training config does not load the trainer or the loader
    assert "dubclr.train.config" in after_config
    heavy = {"dubclr.train.loop", "dubclr.train.loop.trainer", "dubclr.train.state",
             "dubclr.train.checkpoint", "dubclr.data.loader", "dubclr.data.catalog",
             "dubclr.data.sampler", "dubclr.data.dataset", "dubclr.models.av"}
    assert not heavy & after_config, sorted(heavy & after_config)
