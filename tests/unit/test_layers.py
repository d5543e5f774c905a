"""The layer rule, enforced from the imports: client → models → hooks → triggers/sensors/operators,
with the emulator (``testing``) beside them. A module may import its own area and the areas of a
lower rank, never a higher one; the emulator imports nothing of the provider."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "airflow_provider_polaris"
NAME = PACKAGE.name

# rank of each top-level area of the package (a module or a sub-package)
RANKS: dict[str, int] = {
    "__init__": 0,  # __version__ and get_provider_info(): plain data
    "_provider_info": 0,
    "client": 1,  # pure Python + httpx, no Airflow
    "models": 2,
    "outcomes": 2,
    "events": 2,
    "_compat": 3,  # the only module that knows Airflow versions
    "exceptions": 3,
    "hooks": 3,
    "links": 3,
    "assets": 3,  # the polaris:// Asset URI scheme (Airflow-side, beside links)
    "waiting": 3,  # the one wait step (JobWatch) and the trigger event format
    "_task": 3,  # what every task shares: client life cycle, job XCom/link, failure message
    "triggers": 4,
    "operators": 4,
    "sensors": 4,
}
# areas of one rank that must not import each other (sensors wait like operators, through the
# shared wait step below them, not through the operators)
FORBIDDEN = {("sensors", "operators"), ("triggers", "operators"), ("triggers", "sensors")}
BESIDE = {"testing", "demo"}  # the emulator and the demo driver: may use the client, nothing above


def _area(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__"
    is_submodule = (PACKAGE / parts[1]).is_dir() or (PACKAGE / f"{parts[1]}.py").is_file()
    return parts[1] if is_submodule else "__init__"  # a name the package root defines


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [target] + [f"{target}.{alias.name}" for alias in node.names]
            if target == NAME:  # ``from airflow_provider_polaris import client``
                names = [f"{target}.{alias.name}" for alias in node.names]
            for name in names[:1] if target != NAME else names:
                yield node.lineno, name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name


def _violations() -> Iterator[str]:
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _area(_module_name(path))
        for line, target in _imports(path):
            if not (target == NAME or target.startswith(NAME + ".")):
                continue
            dest = _area(target)
            where = f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}"
            if dest == source or RANKS.get(dest) == 0:
                continue
            if source == "testing":
                yield f"{where} (the emulator must not use the provider)"
            elif source in BESIDE:
                if dest not in {"client", "testing"}:
                    yield f"{where} ({source} may use the client and the emulator only)"
            elif dest in BESIDE:
                yield f"{where} (the provider must not import {dest})"
            elif RANKS[dest] > RANKS[source]:
                yield f"{where} ({source} is below {dest})"
            elif (source, dest) in FORBIDDEN:
                yield f"{where} ({source} must not import {dest})"


def test_every_area_has_a_rank() -> None:
    areas = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()}
    areas = {a for a in areas if not a.startswith(("__pycache__", "py")) and a != "py"}
    missing = sorted(a for a in areas if a not in RANKS and a not in BESIDE)
    assert not missing, f"give these areas a rank in RANKS: {missing}"


def test_layers_import_only_downward() -> None:
    violations = list(_violations())
    assert not violations, "\n".join(violations)


@pytest.mark.parametrize("area", ["client", "models"])
def test_lower_layers_do_not_import_airflow(area: str) -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line}"
        for path in sorted((PACKAGE / area).rglob("*.py"))
        for line, target in _imports(path)
        if target == "airflow" or target.startswith("airflow.")
    ]
    assert not offenders, offenders
