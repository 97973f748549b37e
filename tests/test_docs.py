"""The documentation matches the code: every parameter and its default, the quick start, links and file paths."""

import ast
import os
import re

import pytest

import tybalt
from conftest import REPO

DOCS_DIR = os.path.join(REPO, "docs")
PARAMETERS_DOC = os.path.join(DOCS_DIR, "models-and-parameters.md")
README_MAX_LINES = 200
# A markdown link [text](target); a path (in prose, a table or a command) that starts in a top-level folder.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
REPO_PATH = re.compile(r"(?<![\w/.$~-])((?:Tybalt|tests|workflows|bench|examples|docs|\.ci)/[^\s`'\"()\[\],;|]*)")
PLACEHOLDER = re.compile(r"[<>*{}$]|\.\.\.|…")
# A parameter table row: | `name` | `default` | meaning |
PARAMETER_ROW = re.compile(r"^\| `(\w+)` \| `([^`]*)` \|", re.MULTILINE)


def read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def doc_files() -> list[str]:
    """README.md and every guide in docs/."""
    guides = sorted(os.path.join(DOCS_DIR, name) for name in os.listdir(DOCS_DIR) if name.endswith(".md"))
    return [os.path.join(REPO, "README.md")] + guides


def heading_anchors(text: str) -> set[str]:
    """The anchors GitHub gives a markdown file's headings (lower case, punctuation dropped, spaces to hyphens)."""
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE):
        anchors.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return anchors


def documented_parameters() -> list[tuple[str, str]]:
    """(name, default as written) of every row of the parameter tables."""
    return PARAMETER_ROW.findall(read(PARAMETERS_DOC))


def test_parameter_tables_list_every_parameter_once():
    names = [name for name, _ in documented_parameters()]
    defined = [definition["name"] for definition in tybalt.additional_definitions]
    assert sorted(names) == sorted(defined)


def test_parameter_tables_give_each_parameters_default():
    defaults = {definition["name"]: definition["default"] for definition in tybalt.additional_definitions}
    wrong = {name: written for name, written in documented_parameters()
             if ast.literal_eval(written) != defaults[name]}
    assert wrong == {}


def test_readme_quick_start_is_make_demo_and_make_test():
    quick_start = read(os.path.join(REPO, "README.md")).split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.search(r"```\n(.*?)```", quick_start, flags=re.DOTALL).group(1)
    assert [line.split("#")[0].strip() for line in commands.strip().splitlines()] == ["make demo", "make test"]


def test_readme_is_at_most_200_lines():
    assert len(read(os.path.join(REPO, "README.md")).splitlines()) <= README_MAX_LINES


@pytest.mark.parametrize("path", doc_files(), ids=os.path.basename)
def test_every_relative_link_resolves(path):
    broken = []
    for target in LINK.findall(read(path)):
        if re.match(r"[a-z]+:", target):
            continue
        file_part, _, anchor = target.partition("#")
        linked = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
        if not os.path.exists(linked):
            broken.append(target)
        elif anchor and linked.endswith(".md") and anchor not in heading_anchors(read(linked)):
            broken.append(target)
    assert broken == []


@pytest.mark.parametrize("path", doc_files(), ids=os.path.basename)
def test_every_repository_path_exists(path):
    named = {re.split("#|::", match)[0].rstrip(".:") for match in REPO_PATH.findall(read(path))
             if not PLACEHOLDER.search(match)}
    missing = sorted(name for name in named if not os.path.exists(os.path.join(REPO, name)))
    assert missing == []
