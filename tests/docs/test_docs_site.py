"""The documentation: the README stays short and its links resolve; the site builds strict and
every internal link in the built HTML lands on a page and an anchor that exist."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
MAX_README_LINES = 250
MARKDOWN_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


class _Links(HTMLParser):
    """Every ``href`` and every ``id`` of one HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "href" and value is not None and tag == "a":
                self.hrefs.append(value)
            if name == "id" and value:
                self.ids.add(value)


def _parse(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = os.environ | {"NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    return out


def test_readme_is_short_and_names_the_two_commands() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md: {len(lines)} lines, the limit is {MAX_README_LINES}"
    text = "\n".join(lines)
    assert "make run-pipeline" in text and "make test" in text


def test_readme_links_point_at_files_in_the_repository() -> None:
    targets = [t for t in MARKDOWN_LINK.findall(README.read_text(encoding="utf-8")) if "://" not in t]
    assert targets, "README.md links to no documentation page"
    broken = [t for t in targets if not (REPO / unquote(urlsplit(t).path)).is_file()]
    assert not broken, f"README.md: links to missing files: {broken}"


def test_every_docs_page_is_in_the_navigation() -> None:
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    in_nav = {next(iter(entry.values())) for entry in config["nav"]}
    pages = {p.name for p in (REPO / "docs").glob("*.md")}
    assert pages == in_nav, (
        f"mkdocs.yml: nav misses {sorted(pages - in_nav)} and names absent {sorted(in_nav - pages)}"
    )


def test_the_site_builds_with_every_page(site: Path) -> None:
    for page in (REPO / "docs").glob("*.md"):
        built = site / ("index.html" if page.stem == "index" else f"{page.stem}/index.html")
        assert built.is_file(), f"docs/{page.name} was not built into {built.relative_to(site)}"


def test_every_internal_link_of_the_site_resolves(site: Path) -> None:
    pages = {p: _parse(p) for p in site.rglob("*.html")}
    broken: list[str] = []
    checked = 0
    for page, links in pages.items():
        for href in links.hrefs:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:")):
                continue
            path = unquote(parts.path)
            base = site if path.startswith("/") else page.parent  # 404.html links from the site root
            target = (base / path.lstrip("/")).resolve() if path else page
            if target.is_dir():
                target = target / "index.html"
            checked += 1
            if not target.is_file():
                broken.append(f"{page.relative_to(site)}: {href} (no such page)")
            elif parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{page.relative_to(site)}: {href} (no such anchor)")
    assert checked > 50, f"only {checked} internal links found: the check is not looking at the site"
    assert not broken, "broken links:\n" + "\n".join(broken)
