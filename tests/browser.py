#!/usr/bin/env python3
"""The page in a real browser: Debian's Chromium driven by Playwright, against a running
server at BASE (an empty store). Every action the page offers, through the page only:
add, an XSS title kept as text, toggle, filter, search, sort, edit in place (Enter saves,
Escape cancels), delete, paging across 250 todos, the conflict flow with two pages open on
one todo (its choices made with the keyboard), then the keyboard alone: the focus order of
every control, and each action again with Tab, Enter, Space and the arrow keys; no console
error and no CSP violation on any load. With --token TOKEN the server needs one: the page
asks for it once and keeps it for the tab.

With --screenshots DIR it only seeds a few todos and takes the pictures the README shows
(light, dark, narrow) into DIR.

Usage: tests/browser.py BASE [--token TOKEN] [--screenshots DIR]
"""

import argparse
import json
import sys
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def api(base, method, path, body=None, token=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base + path, method=method, headers=headers,
                                     data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read() or b"null")


class Watched:
    """A page whose script errors and CSP violations are collected always, and whose
    console errors and failed requests are collected while it loads (later, an API's 4xx
    that a flow provokes is logged by the browser as a console error, and is expected)."""

    def __init__(self, context, base, token=None):
        self.problems = []
        self.loading = True
        self.page = context.new_page()
        self.page.on("console", self.console)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        # The token travels in the Authorization header only, never in a URL.
        self.page.on("request", lambda r: token and token in r.url
                     and self.problems.append(f"the token in a URL: {r.url}"))
        self.page.on("response", lambda r: self.loading and r.status >= 400
                     and self.problems.append(f"{r.status} for {r.url} while loading"))
        self.page.add_init_script(
            "document.addEventListener('securitypolicyviolation', e => "
            "console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));")
        self.page.goto(base + "/")
        if token:
            # The first load learns from a 401 that the API needs a token (the browser logs
            # that answer): the page asks once, keeps it for the tab, and loads on.
            dialog = self.page.locator("#token-dialog")
            expect(dialog).to_be_visible()
            expect(self.page.locator("#token")).to_be_focused()
            self.problems = [p for p in self.problems if "401" not in p]
            self.page.keyboard.type(token)
            self.page.keyboard.press("Enter")
            expect(dialog).not_to_be_visible()
        expect(self.page.locator("#page-info")).to_contain_text("Page 1")
        self.loading = False
        if token:
            # Loaded again, the tab's token serves at once: no prompt, no error.
            self.reload()
            expect(self.page.locator("#token-dialog")).not_to_be_visible()

    def console(self, message):
        if message.type != "error":
            return
        if self.loading or "CSP violation" in message.text:
            self.problems.append(f"console: {message.text}")

    def reload(self):
        """Reloads the page, its load watched as the first was."""
        self.loading = True
        self.page.reload()
        expect(self.page.locator("#page-info")).to_contain_text("Page")
        self.loading = False

    def check(self):
        assert not self.problems, self.problems


# What a focused element is called in the focus order: its id, its accessible name, a
# radio's group and value, or its text.
FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  return e.id || e.getAttribute("aria-label") || (e.type === "radio" ? `${e.name}:${e.value}` : "")
    || e.textContent.trim();
}"""


def focused(page):
    return page.evaluate(FOCUSED)


def tab_to(page, target, backwards=False):
    """Presses Tab (Shift+Tab backwards) until `target` has the focus; answers the
    controls passed on the way, each once (a date field takes a Tab per part)."""
    passed = []
    for _ in range(100):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        name = focused(page)
        if not passed or passed[-1] != name:
            passed.append(name)
        if name == target:
            return passed
    raise AssertionError(f"no {target} in the focus order: {passed}")


def start_edit(page, n=0):
    """Clicks the n-th todo's Edit and waits for its form (the page reads the todo first)."""
    page.locator("#todos li button", has_text="Edit").nth(n).click()
    expect(page.locator("#todos li form input").first).to_be_focused()


def run(base, token):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context()
        one = Watched(context, base, token)
        page = one.page

        # Add with the keyboard alone: the title field, a date, Enter.
        page.focus("#add-title")
        page.keyboard.type("Buy milk")
        page.keyboard.press("Enter")
        expect(page.locator("#todos li .title")).to_have_text(["Buy milk"])
        expect(page.locator("#status")).to_contain_text("Added")
        page.fill("#add-title", "<img src=x onerror=alert(1)>")
        page.fill("#add-due", "2030-01-31")
        page.click("#add button[type=submit]")
        expect(page.locator("#todos li .title").nth(1)).to_have_text("<img src=x onerror=alert(1)>")
        assert page.locator("#todos img").count() == 0, "a title became HTML"
        expect(page.locator("#todos li .due").nth(1)).to_have_text("due 2030-01-31")

        # An empty title: the API's error, in words, beside the field.
        page.fill("#add-title", "   ")
        page.click("#add button[type=submit]")
        expect(page.locator("#add-title-error")).to_be_visible()
        assert "{" not in page.locator("#add-title-error").inner_text()

        # Toggle, then filter.
        page.locator("#todos li input[type=checkbox]").first.check()
        expect(page.locator("#todos li").first).to_have_class("todo done")
        page.check("input[name=filter][value=completed]")
        expect(page.locator("#todos li .title")).to_have_text(["Buy milk"])
        page.check("input[name=filter][value=active]")
        expect(page.locator("#todos li .title")).to_have_text(["<img src=x onerror=alert(1)>"])
        page.check("input[name=filter][value=all]")
        expect(page.locator("#todos li")).to_have_count(2)

        # Edit in place: Escape cancels, Enter saves.
        start_edit(page)
        page.keyboard.type("Buy oat milk")
        page.keyboard.press("Escape")
        expect(page.locator("#todos li .title").first).to_have_text("Buy milk")
        start_edit(page)
        page.keyboard.type("Buy oat milk")
        page.keyboard.press("Enter")
        expect(page.locator("#todos li .title").first).to_have_text("Buy oat milk")

        # The conflict flow, two pages open on one todo: the first starts an edit, the second
        # changes the todo meanwhile; the first's save answers 412 and it shows both.
        two = Watched(context, base, token)
        start_edit(page)
        page.keyboard.type("Mine")
        start_edit(two.page)
        two.page.keyboard.type("Theirs")
        two.page.keyboard.press("Enter")
        expect(two.page.locator("#todos li .title").first).to_have_text("Theirs")
        page.keyboard.press("Enter")
        dialog = page.locator("#conflict-dialog")
        expect(dialog).to_be_visible()
        expect(page.locator("#conflict-theirs")).to_contain_text("Theirs")
        expect(page.locator("#conflict-mine")).to_contain_text("Mine")
        # The dialog takes the focus: Enter keeps theirs.
        expect(page.locator("#conflict-dialog button[value=theirs]")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#todos li .title").first).to_have_text("Theirs")
        # Again, keeping mine this time.
        start_edit(page)
        page.keyboard.type("Mine wins")
        two.reload()
        start_edit(two.page)
        two.page.keyboard.type("Theirs again")
        two.page.keyboard.press("Enter")
        expect(two.page.locator("#todos li .title").first).to_have_text("Theirs again")
        page.keyboard.press("Enter")
        expect(dialog).to_be_visible()
        page.keyboard.press("Tab")
        expect(page.locator("#conflict-dialog button[value=mine]")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#todos li .title").first).to_have_text("Mine wins")

        # Delete.
        one.reload()
        page.locator("#todos li button", has_text="Delete").nth(1).click()
        expect(page.locator("#todos li")).to_have_count(1)
        expect(page.locator("#status")).to_contain_text("Deleted")

        # Paging across 250 todos, search and sort.
        for n in range(250):
            api(base, "POST", "/todos", {"title": f"item {n:03}"}, token)
        one.reload()
        expect(page.locator("#page-info")).to_contain_text("Page 1 of 13 · 251 todos")
        expect(page.locator("#prev")).to_be_disabled()
        page.click("#next")
        expect(page.locator("#page-info")).to_contain_text("Page 2 of 13")
        expect(page.locator("#todos li .title").first).to_have_text("item 019")
        page.fill("#search", "item 24")
        expect(page.locator("#page-info")).to_contain_text("Page 1 of 1 · 10 todos")
        page.select_option("#sort", "-title")
        expect(page.locator("#todos li .title").first).to_have_text("item 249")
        page.fill("#search", "")
        page.select_option("#sort", "id")
        expect(page.locator("#page-info")).to_contain_text("251 todos")

        keyboard_only(one)

        one.check()
        two.check()
        browser.close()


def keyboard_only(watched):
    """The keyboard alone, from a fresh load: the focus order of every control, paging,
    adding with a date, sorting, toggling, editing, deleting and filtering."""
    watched.reload()
    page = watched.page
    titles = page.locator("#todos li .title").all_inner_texts()
    ids = page.locator("#todos li").evaluate_all("rows => rows.map(row => row.dataset.id)")
    order = ["add-title", "add-due", "Add", "filter:all", "search", "sort"]
    for todo_id, title in zip(ids, titles):
        order += [f"done-{todo_id}", f"Edit “{title}”", f"Delete “{title}”"]
    order.append("next")  # Previous is disabled on the first page
    passed = tab_to(page, "next")
    assert passed == order, f"focus order {passed}, expected {order}"

    # Paging: Enter on Next, then back with Shift+Tab to Previous, now enabled.
    page.keyboard.press("Enter")
    expect(page.locator("#page-info")).to_contain_text("Page 2 of")
    assert tab_to(page, "prev", backwards=True) == ["prev"]
    page.keyboard.press("Enter")
    expect(page.locator("#page-info")).to_contain_text("Page 1 of")

    # Add with a date: Tab into the form, type, Tab through the date's parts, Enter on Add.
    watched.reload()
    tab_to(page, "add-title")
    page.keyboard.type("Call the plumber")
    tab_to(page, "add-due")
    page.keyboard.type("03152031")
    tab_to(page, "Add")
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text("Added “Call the plumber”")
    expect(page.locator("#add-title")).to_be_focused()

    # Sort with the arrow keys: newest first puts it on top.
    tab_to(page, "sort")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#sort")).to_have_value("-id")
    first = page.locator("#todos li").first
    expect(first.locator(".title")).to_have_text("Call the plumber")
    expect(first.locator(".due")).to_have_text("due 2031-03-15")
    new_id = first.get_attribute("data-id")

    # Toggle with Space: the focus stays on the todo's checkbox as the list is drawn anew.
    tab_to(page, f"done-{new_id}")
    page.keyboard.press("Space")
    expect(page.locator("#todos li").first).to_have_class("todo done")
    expect(page.locator(f"#done-{new_id}")).to_be_focused()

    # Edit: Enter on Edit, the title selected; an empty title is refused in words beside
    # the field, which keeps the focus; Enter saves; the focus comes back to the row.
    tab_to(page, "Edit “Call the plumber”")
    page.keyboard.press("Enter")
    expect(page.locator(f"#edit-title-{new_id}")).to_be_focused()
    page.keyboard.press("Backspace")
    page.keyboard.press("Enter")
    error = page.locator(f"#edit-title-{new_id}-error")
    expect(error).to_be_visible()
    assert "{" not in error.inner_text(), error.inner_text()
    expect(page.locator(f"#edit-title-{new_id}")).to_be_focused()
    page.keyboard.type("Call the plumber today")
    page.keyboard.press("Enter")
    expect(first.locator(".title")).to_have_text("Call the plumber today")
    expect(page.locator(f"#done-{new_id}")).to_be_focused()

    # Delete: Enter on Delete; the focus goes to the todo that takes its place.
    next_id = page.locator("#todos li").nth(1).get_attribute("data-id")
    tab_to(page, "Delete “Call the plumber today”")
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text("Deleted “Call the plumber today”")
    expect(page.locator(f"li[data-id='{new_id}']")).to_have_count(0)
    expect(page.locator(f"#done-{next_id}")).to_be_focused()

    # Filter with the arrow keys within the radio group (one stop in the focus order).
    tab_to(page, "filter:all", backwards=True)
    page.keyboard.press("ArrowRight")
    expect(page.locator("input[name=filter][value=active]")).to_be_checked()
    expect(page.locator("#todos li.done")).to_have_count(0)
    page.keyboard.press("ArrowRight")
    expect(page.locator("input[name=filter][value=completed]")).to_be_checked()
    expect(page.locator("#todos li:not(.done)")).to_have_count(0)
    expect(page.locator("#todos li.done")).not_to_have_count(0)
    page.keyboard.press("ArrowRight")
    expect(page.locator("input[name=filter][value=all]")).to_be_checked()


# The todos the README's pictures show.
SCENE = [
    ("Renew passport", "2027-01-15", False),
    ("Book the train to Lyon", None, True),
    ("Call the plumber about the kitchen tap", "2026-12-04", False),
    ("Buy oat milk", None, False),
    ("Write the quarterly report", "2026-12-18", False),
    ("Water the plants", None, True),
    ("Return the library books", "2026-12-09", False),
]


def screenshots(base, token, directory):
    """Seeds the scene into an empty store and takes the README's pictures: light and dark
    on a wide screen, and light on a phone."""
    for title, due, done in SCENE:
        api(base, "POST", "/todos", {"title": title, "dueBy": due, "isComplete": done}, token)
    shots = Path(directory)
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for name, viewport, scheme in [
            ("light", {"width": 960, "height": 720}, "light"),
            ("dark", {"width": 960, "height": 720}, "dark"),
            ("narrow", {"width": 390, "height": 844}, "light"),
        ]:
            context = browser.new_context(viewport=viewport, color_scheme=scheme)
            watched = Watched(context, base, token)
            expect(watched.page.locator("#todos li")).to_have_count(len(SCENE))
            watched.page.screenshot(path=str(shots / f"{name}.png"))
            watched.check()
            context.close()
        browser.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("--token")
    parser.add_argument("--screenshots")
    arguments = parser.parse_args()
    base = arguments.base.rstrip("/")
    if arguments.screenshots:
        screenshots(base, arguments.token, arguments.screenshots)
        print(f"browser: screenshots in {arguments.screenshots}")
    else:
        run(base, arguments.token)
        print("browser: every flow passed")


if __name__ == "__main__":
    sys.exit(main())
