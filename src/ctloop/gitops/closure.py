"""The code closure of a component: the ctloop modules its entry point imports, transitively.

The entry point is read from the component's ``command`` (``python -m ctloop.steps.X`` or
``python path/to/file.py``); imports are found with ``ast`` (every ``import`` statement anywhere in
a module, including ones inside functions), restricted to modules that exist under the
component's ``code`` folder. Parent packages (their ``__init__.py``) are part of the closure since
Python runs them on import.
"""

from __future__ import annotations

import ast
import functools
import re
import shlex
from pathlib import Path

_MODULE_RE = re.compile(r"^[A-Za-z_][\w.]*$")


def entry_points(command: str) -> list[str]:
    """Modules (``-m x.y``) and script paths (``python file.py``) the command runs."""
    found: list[str] = []
    text = re.sub(r"\$\[\[|\]\]", " ", command or "")
    try:
        words = shlex.split(text, posix=True)
    except ValueError:
        words = text.split()
    for i, word in enumerate(words):
        base = Path(word).name
        if not re.fullmatch(r"python[\d.]*", base):
            continue
        j = i + 1
        while j < len(words) and words[j].startswith("-") and words[j] != "-m":
            j += 1
        if j + 1 < len(words) and words[j] == "-m" and _MODULE_RE.match(words[j + 1]):
            found.append(words[j + 1])
        elif j < len(words) and words[j].endswith(".py"):
            found.append(words[j])
    return found


def module_file(code_dir: Path, module: str) -> Path | None:
    """The file that defines ``module`` under ``code_dir`` (module.py or package/__init__.py)."""
    base = code_dir.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_of(code_dir: Path, file: Path) -> str:
    rel = file.resolve().relative_to(code_dir.resolve()).with_suffix("")
    parts = list(rel.parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Absolute module names a module's import statements may load."""
    names: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".") if package else []
                if node.level - 1 > len(base_parts):
                    continue
                base = ".".join(base_parts[: len(base_parts) - (node.level - 1)])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if not target:
                continue
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def code_closure(code_dir: Path, command: str, package: str = "ctloop") -> list[Path]:
    """Sorted files of the command's entry points and every ``package`` module they import."""
    code_dir = code_dir.resolve()
    files: set[Path] = set()
    todo: list[str] = []
    for entry in entry_points(command):
        if entry.endswith(".py"):
            script = (code_dir / entry).resolve()
            if script.is_file() and script.is_relative_to(code_dir):
                files.add(script)
                tree = _parse(script)
                if tree is not None:
                    todo.extend(_imports(tree, "", False))
        else:
            todo.append(entry)
    done: set[str] = set()
    while todo:
        name = todo.pop()
        if name in done or not (name == package or name.startswith(package + ".")):
            continue
        done.add(name)
        for mod in _with_parents(name):
            path = module_file(code_dir, mod)
            if path is None or path in files:
                continue
            files.add(path)
            tree = _parse(path)
            if tree is not None:
                todo.extend(_imports(tree, _module_of(code_dir, path), path.name == "__init__.py"))
    return sorted(files)


@functools.lru_cache(maxsize=4096)
def _parse_cached(path: Path, mtime_ns: int, size: int) -> ast.AST | None:
    try:
        return ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError):
        return None


def _parse(path: Path) -> ast.AST | None:
    """The module's syntax tree (cached while the file is unchanged), or None when it does not parse."""
    stat = path.stat()
    return _parse_cached(path, stat.st_mtime_ns, stat.st_size)


def normalized_source(path: Path) -> bytes:
    """What a module's hash covers: its bytes with line endings normalised (the code snapshot
    Azure ML uploads changes with any byte, comments included, so the hash does too)."""
    return path.read_bytes().replace(b"\r\n", b"\n")
