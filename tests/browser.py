#!/usr/bin/env python3
"""The page in a real browser: Debian's Chromium driven by Playwright, against a running
server at BASE (an empty store). Every action the page offers, through the page only:
add (keyboard alone), an XSS title kept as text, toggle, filter, search, sort, edit in
place (Enter saves, Escape cancels), delete, paging across 250 todos, the conflict flow
with two pages open on one todo; no console error and no CSP violation on any load.
With --token TOKEN the server needs one: the page asks for it once and keeps it for the tab.
Screenshots (light, dark, narrow) go to --screenshots DIR.

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


def start_edit(page, n=0):
    """Clicks the n-th todo's Edit and waits for its form (the page reads the todo first)."""
    page.locator("#todos li button", has_text="Edit").nth(n).click()
    expect(page.locator("#todos li form input").first).to_be_focused()


def run(base, token, screenshots):
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
        page.locator("#conflict-dialog button[value=theirs]").click()
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
        page.locator("#conflict-dialog button[value=mine]").click()
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

        if screenshots:
            shots = Path(screenshots)
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / "light.png"))
            page.emulate_media(color_scheme="dark")
            page.screenshot(path=str(shots / "dark.png"))
            page.emulate_media(color_scheme="light")
            page.set_viewport_size({"width": 390, "height": 844})
            page.screenshot(path=str(shots / "narrow.png"))

        one.check()
        two.check()
        browser.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("--token")
    parser.add_argument("--screenshots")
    arguments = parser.parse_args()
    run(arguments.base.rstrip("/"), arguments.token, arguments.screenshots)
    print("browser: every flow passed")


if __name__ == "__main__":
    sys.exit(main())
