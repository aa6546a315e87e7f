"""The docs stay true to the repository: measured tables rendered from the benchmark's JSON, links
that resolve, named tests and settings that exist, every report listed, a short README.

No database: these read files (and the catalog, which Django loads without a query)."""

import re
from pathlib import Path

import pytest
import yaml

from benchmarks import render
from reporting.catalog import REPORTS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = sorted(DOCS.glob("*.md"))
README_MAX_LINES = 150

FENCED = re.compile(r"^```.*?^```", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
# A test named on a page: `tests/<path>.py::<function>`, or `::<function>` after such a name.
TEST_NAME = re.compile(r"`(tests/[\w/]+\.py)?::(\w+)`|`(tests/[\w/]+\.py)`")
SETTINGS_READ = re.compile(
    r"""(?:os\.environ\.get|os\.environ\.setdefault|env_bool|env_list)\(\s*["']([A-Z][A-Z0-9_]+)["']"""
    r"""|os\.environ\[["']([A-Z][A-Z0-9_]+)["']\]"""
)


def prose(text: str) -> str:
    """The page without its code: what a reader follows as links."""
    return INLINE_CODE.sub("", FENCED.sub("", text))


def relative_links(page: Path) -> list[str]:
    targets = LINK.findall(prose(page.read_text()))
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


def test_the_measured_tables_are_what_the_results_render():
    results = render.results_load()
    rendered = [page for page in PAGES if render.BLOCK.search(page.read_text())]
    assert DOCS / "performance.md" in rendered
    for page in rendered:
        text = page.read_text()
        assert render.page_render(text, results) == text, (
            f"{page.name} differs from benchmarks/results: run `python -m benchmarks.render`"
        )


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: p.name)
def test_every_relative_link_points_at_a_file_that_exists(page):
    for target in relative_links(page):
        path = (page.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{page.name} links {target}, which does not exist"
        assert ROOT in path.parents, f"{page.name} links {target}, outside the repository"


def test_no_page_points_outside_the_repository():
    for page in [README, *PAGES]:
        assert "../shared/" not in page.read_text(), page.name


def test_the_readme_is_short_and_starts_with_the_two_commands():
    text = README.read_text()
    assert len(text.splitlines()) <= README_MAX_LINES
    head = "\n".join(text.splitlines()[:10])
    assert "make run" in head and "make test" in head


def test_every_page_is_in_the_site_nav_and_every_nav_entry_is_a_page():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    nav = {file for entry in config["nav"] for file in entry.values()}
    assert nav == {page.name for page in PAGES}
    assert config["strict"] is True and config["docs_dir"] == "docs"


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda p: p.name)
def test_every_test_a_page_names_exists(page):
    for line in page.read_text().splitlines():
        current = None
        for match in TEST_NAME.finditer(line):
            if match[3]:
                current = match[3]
                assert (ROOT / current).exists(), f"{page.name}: no {current}"
                continue
            current = match[1] or current
            assert current, f"{page.name}: `::{match[2]}` names no file"
            source = (ROOT / current).read_text()
            assert re.search(rf"^\s*(async )?def {match[2]}\(", source, re.M), (
                f"{page.name}: {current} has no test {match[2]}"
            )


def test_every_setting_read_from_the_environment_is_documented():
    documented = (DOCS / "configuration.md").read_text()
    sources = [*sorted((ROOT / "config").rglob("*.py")), *sorted((ROOT / "infra").rglob("*.py"))]
    names = set()
    for source in sources:
        for match in SETTINGS_READ.finditer(source.read_text()):
            names.add(match[1] or match[2])
    assert "READ_MODEL_REFRESH" in names  # the pattern finds what settings.py reads
    missing = sorted(name for name in names if f"`{name}`" not in documented)
    assert not missing, f"not in docs/configuration.md: {missing}"


def test_every_report_of_the_catalog_is_on_the_pages_that_list_them():
    api, strategies = (DOCS / "api.md").read_text(), (DOCS / "strategies.md").read_text()
    for report in REPORTS:
        assert f"/api/reports/{report.route}/" in api, report.name
        assert f"`{report.name}`" in strategies, report.name
