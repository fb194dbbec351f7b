"""Accessibility checks in Chromium on every main page: names for every control, one h1,
landmarks, a skip link first, and WCAG AA text contrast computed from the real styles."""

from __future__ import annotations

import pytest

PAGES = {
    "end_user": ["/", "/catalog", "/requests", "/requests/new"],
    "specialist": ["/inbox"],
    "admin": [
        "/admin/services",
        "/admin/offerings",
        "/admin/slas",
        "/admin/calendars",
        "/admin/cis",
        "/admin/teams",
        "/admin/people",
        "/audit",
    ],
}

AUDIT = """
() => {
  const problems = [];
  const named = (el) => (el.labels && el.labels.length) || el.getAttribute('aria-label')
    || el.getAttribute('aria-labelledby') || el.type === 'hidden' || el.type === 'submit';
  document.querySelectorAll('input, select, textarea').forEach((el) => {
    if (!named(el)) problems.push('unlabelled ' + el.tagName + '#' + el.id + '[' + el.name + ']');
  });
  document.querySelectorAll('button, a').forEach((el) => {
    if (!el.textContent.trim() && !el.getAttribute('aria-label')) {
      problems.push('nameless ' + el.tagName);
    }
  });
  if (document.querySelectorAll('h1').length !== 1) problems.push('not exactly one h1');
  if (!document.documentElement.lang) problems.push('no lang');
  if (!document.querySelector('main')) problems.push('no main landmark');
  const ids = {};
  document.querySelectorAll('[id]').forEach((el) => {
    if (ids[el.id]) problems.push('duplicate id ' + el.id); ids[el.id] = true;
  });
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  document.querySelectorAll('body *').forEach((el) => {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length) return;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || el.closest('.sr-only, .skip, option')) return;
    const fg = lum(rgb(style.color).slice(0, 3)), bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight) >= 700;
    const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < needed) {
      problems.push('contrast ' + ratio.toFixed(2) + ' on ' + el.textContent.trim().slice(0, 30));
    }
  });
  return problems;
}
"""


@pytest.mark.parametrize("role", sorted(PAGES))
def test_main_pages_pass_the_accessibility_checks(login, node, role):
    page = login(role)
    for path in PAGES[role]:
        page.goto(node.url + path)
        problems = page.evaluate(AUDIT)
        assert problems == [], f"{path}: {problems}"
        first = page.evaluate("document.querySelector('a, button, input, select').className")
        assert first == "skip", f"{path}: the skip link is not the first stop"


def test_a_request_page_with_errors_passes_the_accessibility_checks(login, node):
    page = login("end_user")
    page.goto(node.url + "/requests/new")
    page.click("button:has-text('Raise the request')")
    assert page.evaluate(AUDIT) == []
    invalid = page.evaluate(
        "[...document.querySelectorAll('[aria-invalid=true]')].map(e => e.id + ':' + "
        "(document.getElementById(e.getAttribute('aria-describedby')"
        ".split(' ').pop()) || {}).textContent)"
    )
    assert invalid and all("required" in text or "Choose" in text for text in invalid), invalid


def test_the_checks_catch_what_they_look_for(login, node):
    """Guard against a vacuous audit: planted mistakes must be reported."""
    page = login("end_user")
    # The page's policy refuses style attributes in markup; a script's style is its own.
    page.evaluate(
        "document.querySelector('main').insertAdjacentHTML('beforeend',"
        ' \'<p id="pale">pale text</p><input id="orphan">\');'
        " document.getElementById('pale').style.color = '#bbb'"
    )
    problems = page.evaluate(AUDIT)
    assert any(p.startswith("contrast") and "pale text" in p for p in problems), problems
    assert any("unlabelled INPUT#orphan" in p for p in problems), problems
