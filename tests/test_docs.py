"""The README documents what the code offers: every parameter, and the two quick-start commands."""

import os

import tybalt
from conftest import REPO


def readme() -> str:
    with open(os.path.join(REPO, "README.md")) as handle:
        return handle.read()


def test_readme_documents_every_parameter():
    text = readme()
    undocumented = [d["name"] for d in tybalt.additional_definitions if f"| `{d['name']}`" not in text]
    assert undocumented == []


def test_readme_quick_start_is_make_demo_and_make_test():
    quick_start = readme().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "make demo" in quick_start and "make test" in quick_start
