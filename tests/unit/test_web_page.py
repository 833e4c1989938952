"""The web page's files (web/), read as the server serves them: every file the page
names is there with its type, nothing runs or styles inline (the door's
Content-Security-Policy would refuse it), and no script writes markup, so what users
send can only ever be text. tests/browser/ runs the page itself in Chromium."""

from __future__ import annotations

import re

import pytest

from net.web import WEB_ROOT, Site

SITE = Site.load()
INDEX = (WEB_ROOT / "index.html").read_text()
SCRIPTS = {path.name: path.read_text() for path in sorted(WEB_ROOT.glob("*.js"))}
STYLES = (WEB_ROOT / "style.css").read_text()


def test_every_file_the_page_names_is_served_with_its_type() -> None:
    named = set(re.findall(r'(?:src|href)="([^"]+)"', INDEX))
    named |= {m for text in SCRIPTS.values() for m in re.findall(r'from "\./([^"]+)"', text)}
    named |= set(re.findall(r'url\("([^"]+)"\)', STYLES))
    assert {"app.js", "style.css", "favicon.svg", "icons/menu.svg"} <= named
    types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    for name in named:
        page = SITE.pages.get(f"/{name}")
        assert page is not None, f"the page names {name}, which web/ does not have"
        suffix = name[name.rfind(".") :]
        assert page.content_type.startswith(types[suffix]), (name, page.content_type)


def test_nothing_runs_or_styles_inline() -> None:
    assert re.findall(r"<script\b[^>]*>", INDEX) == ['<script type="module" src="app.js">']
    assert "<style" not in INDEX
    assert not re.search(r"\s(style|on[a-z]+)=", INDEX)
    assert "javascript:" not in INDEX


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_no_script_writes_markup_or_evaluates_text(name: str) -> None:
    code = SCRIPTS[name]
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                 "new Function", "setAttribute(\"style\"", ".style.", "srcdoc"):  # fmt: skip
        assert sink not in code, f"{name} uses {sink}"
    assert "fetch(" not in code and "XMLHttpRequest" not in code  # the socket only
