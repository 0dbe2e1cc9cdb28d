"""The review page's filter and bulk approve in a real browser, as a billing clerk uses them.

Headless Chromium (found as tests/e2e/test_dashboard_end_to_end.py finds it) is driven over the
DevTools protocol on a pipe (`--remote-debugging-pipe`: no port, no extra package): the clerk
signs in with the review token, types a timekeeper's e-mail into the filter, ticks "no findings",
presses Filter, types the review token, presses the bulk approve button, and reads what the page
says. The firm is the demo firm on the Clio sandbox after its first sync (every entry waits for
review); the expected entries are picked in the test from the stored entries by their fields.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core.models import EntryState, TimeEntry
from core.server import BackgroundWork, build_app
from core.serving import run_in_thread
from tests.e2e.test_dashboard_end_to_end import chromium
from tests.reports.firm import REVIEW_TOKEN, ReportFirm

pytestmark = pytest.mark.e2e


class Browser:
    """One headless Chromium page, driven over the DevTools protocol on fds 3 and 4."""

    def __init__(self, profile: Path) -> None:
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()

        def pipes_as_3_and_4() -> None:  # the fds --remote-debugging-pipe reads and writes
            os.dup2(to_browser_read, 3)
            os.dup2(from_browser_write, 4)

        self._process = subprocess.Popen(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"],
            preexec_fn=pipes_as_3_and_4,  # only dup2 before exec
            close_fds=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")

    def _send(self, message: dict[str, Any]) -> int:
        self._next_id += 1
        os.write(self._to_browser, json.dumps({"id": self._next_id, **message}).encode() + b"\0")
        return self._next_id

    def _receive(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_browser, 1 << 16)
            assert chunk, "the browser closed its pipe"
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def _call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        sent = self._send({"method": method, "params": params or {}, **({"sessionId": session} if session else {})})
        while True:
            message = self._receive()
            if message.get("id") == sent:
                assert "error" not in message, message
                return message["result"]
            self.events.append(message)

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """A command on the page's session."""
        return self._call(method, params, self._session)

    def wait_for_load(self) -> None:
        """Until the page now loading has fired its load event."""
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(self._receive())
        self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]

    def go(self, url: str) -> None:
        self.call("Page.navigate", {"url": url})
        self.wait_for_load()

    def run(self, script: str) -> Any:
        """Run `script` in the page (as a person's clicks and typing would act) and return its value."""
        result = self.call("Runtime.evaluate", {"expression": script, "returnByValue": True})
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def console(self) -> list[str]:
        """Every console message and browser log entry (a refused script is one) so far."""
        said = []
        for event in self.events:
            if event.get("method") == "Runtime.consoleAPICalled":
                said.append(" ".join(str(a.get("value", a.get("description"))) for a in event["params"]["args"]))
            elif event.get("method") == "Log.entryAdded":
                entry = event["params"]["entry"]
                if not entry.get("url", "").endswith("/favicon.ico"):  # the browser asks; the daemon has none
                    said.append(f"{entry['text']} {entry.get('url', '')}")
        return said

    def close(self) -> None:
        os.close(self._to_browser)
        os.close(self._from_browser)
        self._process.terminate()
        self._process.wait(timeout=30)


@pytest.fixture
def firm(tmp_path: Path) -> Iterator[ReportFirm]:
    chromium()  # skip before building the firm when there is no browser
    made = ReportFirm(tmp_path, activities=120)
    made.runtime.runner.run_once()
    yield made
    made.close()


def type_into(selector: str, value: str) -> str:
    """A script that types `value` into the field `selector`, as a person would (a change event)."""
    return (
        f"(() => {{ const f = document.querySelector({json.dumps(selector)}); f.value = {json.dumps(value)};"
        " f.dispatchEvent(new Event('change')); })()"
    )


def entry_rows() -> str:
    return "document.querySelectorAll('#entries-table tbody tr').length"


def test_a_clerk_filters_to_one_timekeepers_clean_entries_and_approves_them_at_once(
    firm: ReportFirm, tmp_path: Path
) -> None:
    waiting = [e for e in firm.store.entries("demo") if e.state is EntryState.NEEDS_REVIEW and not e.findings]
    by_timekeeper: dict[str, list[TimeEntry]] = {}
    for entry in waiting:
        by_timekeeper.setdefault(entry.timekeeper_id, []).append(entry)
    timekeeper_id, clean = max(by_timekeeper.items(), key=lambda item: len(item[1]))
    email = firm.store.load_reference("demo").timekeepers[timekeeper_id].email
    assert email and len(clean) >= 2
    others = [e for e in firm.store.entries("demo", [EntryState.NEEDS_REVIEW]) if e.timekeeper_id != timekeeper_id]

    worker = BackgroundWork()
    runtime = replace(firm.runtime, settings=firm.settings.firm("demo"))
    port, stop = run_in_thread(build_app({"demo": runtime}, settings=firm.settings, worker=worker))
    browser = Browser(tmp_path / "profile")
    base = f"http://127.0.0.1:{port}"
    try:
        browser.go(f"{base}/reports/login")
        browser.run(type_into("input[name=token]", REVIEW_TOKEN))
        browser.run("document.querySelector('form').submit()")
        browser.wait_for_load()
        browser.go(f"{base}/reports/demo/review")
        assert browser.run("document.getElementById('bulk-off') !== null")  # no filter: no bulk action

        browser.run(type_into("#filter input[name=timekeeper]", email))
        browser.run("document.querySelector('#filter input[name=clean]').checked = true")
        browser.run("document.getElementById('apply-filter').click()")
        browser.wait_for_load()
        asked = "Object.fromEntries([...new URLSearchParams(location.search)].filter(([, v]) => v))"
        assert browser.run(asked) == {"timekeeper": email, "clean": "1"}  # the form's GET, blanks aside
        assert browser.run(entry_rows()) == len(clean)

        browser.run(type_into("#token", REVIEW_TOKEN))
        browser.run("document.querySelector('#bulk-approve button').click()")
        browser.wait_for_load()
        said = browser.run("document.querySelector('p.done') && document.querySelector('p.done').textContent")
        shown = browser.run(entry_rows())
        console = browser.console()
    finally:
        browser.close()
        stop()
        worker.close()
    assert said is not None and said.startswith(f"approved {len(clean)} entries of {email} with no findings"), said
    assert shown == 0  # the same filter, now with nothing left to approve
    assert console == []  # no script error, nothing the page's policy refused
    approved = {e.id for e in firm.store.entries("demo", [EntryState.APPROVED])}
    assert approved == {e.id for e in clean}
    still = {e.id for e in firm.store.entries("demo", [EntryState.NEEDS_REVIEW])}
    assert {e.id for e in others} <= still


def test_a_name_of_10000_characters_wraps_and_the_state_column_stays_on_screen(
    firm: ReportFirm, tmp_path: Path
) -> None:
    waiting = firm.store.entries("demo", [EntryState.NEEDS_REVIEW])
    reference = firm.store.load_reference("demo")
    person = reference.timekeepers[waiting[0].timekeeper_id]
    firm.store.save_reference("demo", [person.model_copy(update={"name": "W" * 10_000})])  # no place to break
    worker = BackgroundWork()
    runtime = replace(firm.runtime, settings=firm.settings.firm("demo"))
    port, stop = run_in_thread(build_app({"demo": runtime}, settings=firm.settings, worker=worker))
    browser = Browser(tmp_path / "profile")
    base = f"http://127.0.0.1:{port}"
    try:
        browser.go(f"{base}/reports/login")
        browser.run(type_into("input[name=token]", REVIEW_TOKEN))
        browser.run("document.querySelector('form').submit()")
        browser.wait_for_load()
        browser.go(f"{base}/reports/demo/review?timekeeper={person.id}")
        widths = browser.run(
            "(() => { const t = document.getElementById('entries-table');"
            " const state = t.querySelector('tbody tr td:nth-child(8)');"
            " return [document.documentElement.scrollWidth, window.innerWidth,"
            " Math.ceil(state.getBoundingClientRect().right), t.rows.length]; })()"
        )
    finally:
        browser.close()
        stop()
        worker.close()
    page_width, window_width, state_right, rows = widths
    assert rows > 1  # the header and the person's entries
    assert page_width <= window_width and state_right <= window_width, widths
