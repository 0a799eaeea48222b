"""``ctloop review --base <ref>``: what a change does to the specs, as Markdown for a PR comment.

Compares the reviewed files at ``<ref>`` with the working tree: components added, removed or
bumped; pipeline edges added or removed; environment package changes; threshold changes in
``policies/`` (a gate loosened is flagged loudly, directions from ``ctloop.gitops.strictness``);
schedule and endpoint changes; stack config changes (``Pulumi.<stack>.yaml``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from ctloop.gitops import strictness
from ctloop.gitops.graph import GATE_OUTPUT, edges, jobs_of
from ctloop.gitops.snapshot import ReviewError, Snapshot, from_ref, from_worktree

__all__ = ["ReviewError", "review_markdown", "review_snapshots"]

LOOSE = "⚠️ **LOOSER**"


@dataclass
class Section:
    title: str
    lines: list[str] = field(default_factory=list)
    loosened: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- helpers


def _code(value: Any) -> str:
    if value is None:
        return "—"
    text = (
        value
        if isinstance(value, str)
        else repr(value)
        if not isinstance(value, bool)
        else str(value).lower()
    )
    text = text.replace("|", "\\|").replace("\n", " ")
    return f"`{text}`"


def flatten(data: Any, prefix: str = "", whole: tuple[str, ...] = ()) -> dict[str, Any]:
    """Leaves of ``data`` by dotted path; lists of scalars, empty containers and ``whole`` keys stay whole."""
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict | list) and value and not any(fnmatchcase(path, w) for w in whole):
                if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
                    out[path] = value
                else:
                    out.update(flatten(value, path, whole))
            else:
                out[path] = value
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out.update(flatten({str(i): value}, prefix, whole))
    elif prefix:
        out[prefix] = data
    return out


def _changes(old: Any, new: Any, whole: tuple[str, ...] = ()) -> list[tuple[str, Any, Any]]:
    a, b = flatten(old or {}, whole=whole), flatten(new or {}, whole=whole)
    return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def _semver_level(old: str, new: str) -> str:
    def parts(v: str) -> tuple[int, ...] | None:
        m = re.match(r"^(\d+)\.(\d+)\.(\d+)", v)
        return tuple(map(int, m.groups())) if m else None

    a, b = parts(old), parts(new)
    if a is None or b is None:
        return "changed"
    if b < a:
        return "**downgraded**"
    for level, x, y in zip(("major", "minor", "patch"), a, b, strict=True):
        if x != y:
            return level
    return "changed"


def _specs(snap: Snapshot, globs: tuple[str, ...]) -> dict[str, tuple[str, dict[str, Any]]]:
    """name -> (path, data) for named specs matching ``globs``."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for path in snap.matching(*globs):
        data = snap.yaml(path)
        if isinstance(data, dict) and isinstance(data.get("name"), str) and "version" in data:
            found[data["name"]] = (path, data)
    return found


# --------------------------------------------------------------------------- sections


def components_section(old: Snapshot, new: Snapshot) -> Section:
    sec = Section("Components")
    globs = ("components/*.yml", "components/*.yaml")
    a, b = _specs(old, globs), _specs(new, globs)
    for name in sorted(set(b) - set(a)):
        sec.lines.append(f"- added `{name}` {_code(str(b[name][1]['version']))}")
    for name in sorted(set(a) - set(b)):
        sec.lines.append(f"- removed `{name}` (was {_code(str(a[name][1]['version']))})")
    for name in sorted(set(a) & set(b)):
        va, vb = str(a[name][1]["version"]), str(b[name][1]["version"])
        body_a = {k: v for k, v in a[name][1].items() if k != "version"}
        body_b = {k: v for k, v in b[name][1].items() if k != "version"}
        if va != vb:
            sec.lines.append(f"- bumped `{name}` {_code(va)} → {_code(vb)} ({_semver_level(va, vb)})")
        elif body_a != body_b:
            sec.lines.append(f"- ⚠️ `{name}` changed **without a version bump** (still {_code(va)})")
    return sec


def _packages(snap: Snapshot, env_path: str, data: dict[str, Any]) -> dict[str, str]:
    conda = data.get("conda_file")
    if isinstance(conda, dict):
        spec = conda
    elif isinstance(conda, str):
        spec = snap.yaml((Path(env_path).parent / conda).as_posix())
    else:
        return {}
    packages: dict[str, str] = {}
    for dep in (spec or {}).get("dependencies", []) if isinstance(spec, dict) else []:
        items = dep.get("pip", []) if isinstance(dep, dict) else [dep]
        prefix = "pip:" if isinstance(dep, dict) else ""
        for item in items:
            match = re.match(r"^\s*([A-Za-z0-9_.\-\[\],:]+?)\s*(?:(===?|[<>!~]=?|=)\s*(.+))?\s*$", str(item))
            if match:
                packages[prefix + match.group(1).lower()] = (match.group(2) or "") + (match.group(3) or "")
    return packages


def environments_section(old: Snapshot, new: Snapshot) -> Section:
    sec = Section("Environments")
    globs = ("environments/*.yml", "environments/*.yaml")
    a = {
        n: v
        for n, v in _specs(old, globs).items()
        if "conda_file" in v[1] or "image" in v[1] or "build" in v[1]
    }
    b = {
        n: v
        for n, v in _specs(new, globs).items()
        if "conda_file" in v[1] or "image" in v[1] or "build" in v[1]
    }
    for name in sorted(set(b) - set(a)):
        sec.lines.append(f"- added `{name}` {_code(str(b[name][1]['version']))}")
    for name in sorted(set(a) - set(b)):
        sec.lines.append(f"- removed `{name}`")
    for name in sorted(set(a) & set(b)):
        (pa, da), (pb, db) = a[name], b[name]
        lines = []
        if str(da.get("version")) != str(db.get("version")):
            lines.append(f"version {_code(str(da.get('version')))} → {_code(str(db.get('version')))}")
        if da.get("image") != db.get("image"):
            lines.append(f"image {_code(da.get('image'))} → {_code(db.get('image'))}")
        ka, kb = _packages(old, pa, da), _packages(new, pb, db)
        for pkg in sorted(set(ka) | set(kb)):
            if ka.get(pkg) != kb.get(pkg):
                before = _code(ka[pkg]) if pkg in ka else "added"
                after = _code(kb[pkg]) if pkg in kb else "removed"
                lines.append(f"`{pkg}` {before} → {after}")
        if lines:
            sec.lines.append(f"- `{name}`: " + "; ".join(lines))
            if str(da.get("version")) == str(db.get("version")):
                sec.lines.append(f"  - ⚠️ `{name}` changed **without a version bump**")
    return sec


def pipelines_section(old: Snapshot, new: Snapshot) -> Section:
    sec = Section("Pipelines")
    globs = ("pipelines/*.yml", "pipelines/*.yaml")
    for path in sorted(set(old.matching(*globs)) | set(new.matching(*globs))):
        da, db = old.yaml(path), new.yaml(path)
        if da is None and db is not None:
            sec.lines.append(f"- added `{path}` ({len(jobs_of(db))} jobs)")
            continue
        if db is None:
            sec.lines.append(f"- removed `{path}`")
            continue
        ja, jb = jobs_of(da), jobs_of(db)
        ea, eb = {str(e) for e in edges(da)}, {str(e) for e in edges(db)}
        items = [f"job `{j}` added" for j in sorted(set(jb) - set(ja))]
        items += [f"job `{j}` removed" for j in sorted(set(ja) - set(jb))]
        items += [
            f"job `{j}` component {_code(ja[j].get('component'))} → {_code(jb[j].get('component'))}"
            for j in sorted(set(ja) & set(jb))
            if ja[j].get("component") != jb[j].get("component")
        ]
        items += [f"edge added `{e}`" for e in sorted(eb - ea)]
        items += [f"edge removed `{e}`" for e in sorted(ea - eb)]
        for e in edges(da):
            if e.src_port == GATE_OUTPUT and str(e) not in eb:
                sec.loosened.append(f"`{path}`: gate edge `{e}` removed (see pipeline.release-gated)")
        other = [
            k
            for k, _, _ in _changes(
                {k: v for k, v in da.items() if k != "jobs"}, {k: v for k, v in db.items() if k != "jobs"}
            )
        ]
        if other:
            items.append("settings/inputs changed: " + ", ".join(f"`{k}`" for k in other))
        if items:
            sec.lines.append(f"- `{path}`")
            sec.lines.extend(f"  - {i}" for i in items)
    return sec


def _table(sec: Section, file: str, old: Any, new: Any, secret_key: str | None = None) -> None:
    whole = tuple(strictness.list_keys(file))
    rows = []
    for key, before, after in _changes(old, new, whole):
        if secret_key and secret_key in key.split("."):
            rows.append(f"| `{key}` | (encrypted) | (encrypted, changed) | |")
            continue
        how = strictness.direction(file, key)
        verdict = strictness.verdict(how, before, after)
        if verdict == "looser":
            sec.loosened.append(f"`{file}` `{key}`: {_code(before)} → {_code(after)}")
        shown = LOOSE if verdict == "looser" else verdict or ""
        rows.append(f"| `{key}` | {_code(before)} | {_code(after)} | {shown} |")
    if rows:
        sec.lines.append(f"\n`{file}`\n\n| key | before | after | gate |\n|---|---|---|---|")
        sec.lines.extend(rows)


def _files_section(
    title: str, old: Snapshot, new: Snapshot, globs: tuple[str, ...], secret_key: str | None = None
) -> Section:
    sec = Section(title)
    for path in sorted(set(old.matching(*globs)) | set(new.matching(*globs))):
        a, b = old.yaml(path), new.yaml(path)
        if path not in old.files:
            sec.lines.append(f"- added `{path}`")
        elif path not in new.files:
            sec.lines.append(f"- removed `{path}`")
        else:
            _table(sec, path, a, b, secret_key)
    return sec


def review_snapshots(old: Snapshot, new: Snapshot) -> str:
    """The Markdown comparing two snapshots."""
    sections = [
        components_section(old, new),
        environments_section(old, new),
        pipelines_section(old, new),
        _files_section("Policies and thresholds", old, new, ("policies/*.yml", "policies/infra/*.yml")),
        _files_section("Schedules", old, new, ("pipelines/schedules/*.yml", "pipelines/schedules/*.yaml")),
        _files_section(
            "Endpoints and deployments", old, new, ("pipelines/endpoints/*.yml", "pipelines/endpoints/*.yaml")
        ),
        _files_section(
            "Stack config", old, new, ("Pulumi.*.yaml", "infra/Pulumi.*.yaml"), secret_key="secure"
        ),
    ]
    out = ["## ctloop spec review", "", f"Compared with {old.label}."]
    loosened = [item for s in sections for item in s.loosened]
    if loosened:
        out += [
            "",
            "> [!WARNING]",
            f"> **{len(loosened)} gate(s) loosened.** A reviewer must sign off on each:",
        ]
        out += [f"> - {item}" for item in loosened]
    changed = [s for s in sections if s.lines]
    if not changed:
        out += [
            "",
            "No changes to components, environments, pipelines, policies, schedules, endpoints "
            "or stack config.",
        ]
    for s in changed:
        out += ["", f"### {s.title}", *s.lines]
    return "\n".join(out) + "\n"


def review_markdown(root: Path, base: str) -> str:
    """Markdown describing what the working tree at ``root`` changes compared with ``base``."""
    return review_snapshots(from_ref(root, base), from_worktree(root))
