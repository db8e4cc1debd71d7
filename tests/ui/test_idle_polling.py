"""An idle page asks the server nothing: the Train and Evaluate tabs' timers tick only while a job
of their kind is queued or running, in a real browser that records its own requests.

A timer tick is a POST to /gradio_api/queue/join whose `trigger_id` is the gr.Timer's component id;
each timer is told apart by the elem_ids of what its tick refreshes (`train-…`, `eval-…`,
`pairs-…`).
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from studio.testing.gestures import (
    LOSS_POINTS_JS,
    choose,
    choose_custom,
    element_text,
    fill,
    open_tab,
    table_row,
    wait_for_train_form,
)
from studio.ui.job_panel import POLL_S

pytestmark = pytest.mark.browser

JOB_TIMEOUT_MS = 300_000
QUIET_S = 3 * POLL_S  # a window in which an active timer would tick three times
expect.set_options(timeout=60_000)  # a CPU-bound studio on 2 shared cores


def timer_tabs(url: str) -> dict[int, str]:
    """Each gr.Timer's component id -> the tab its tick refreshes ("train", "eval" or "pairs")."""
    config = json.loads(urllib.request.urlopen(f"{url}/config", timeout=30).read())
    elem_ids = {c["id"]: c["props"].get("elem_id") or "" for c in config["components"]}
    timers = {c["id"] for c in config["components"] if c["type"] == "timer"}
    tabs = {}
    for dependency in config["dependencies"]:
        for target, event in dependency["targets"]:
            if event == "tick" and target in timers:
                prefixes = {elem_ids[o].split("-")[0] for o in dependency["outputs"] if elem_ids[o]}
                assert len(prefixes) == 1, f"timer {target} refreshes {prefixes}"
                tabs[target] = prefixes.pop()
    assert sorted(tabs.values()) == ["eval", "pairs", "train"], tabs
    return tabs


class TimerTicks:
    """The page's timer ticks as (monotonic time, tab), recorded from its requests."""

    def __init__(self, page, url: str) -> None:
        self.tabs = timer_tabs(url)
        self.ticks: list[tuple[float, str]] = []
        page.on("request", self._record)

    def _record(self, request) -> None:
        if request.method == "POST" and request.url.split("?")[0].endswith(
            "/gradio_api/queue/join"
        ):
            trigger = json.loads(request.post_data or "{}").get("trigger_id")
            if trigger in self.tabs:
                self.ticks.append((time.monotonic(), self.tabs[trigger]))

    def of(self, tab: str, since: float = 0.0) -> list[float]:
        return [at for at, name in self.ticks if name == tab and at >= since]

    def wait_for(self, page, tab: str, since: float, timeout_s: float = 60.0) -> None:
        """Wait until `tab`'s timer ticked after `since`."""
        deadline = time.monotonic() + timeout_s
        while not self.of(tab, since):
            assert time.monotonic() < deadline, (
                f"the {tab} timer did not tick within {timeout_s:.0f} s"
            )
            page.wait_for_timeout(200)  # lets Playwright deliver the request events


def assert_ticking_stopped(page, ticks: TimerTicks, tab: str) -> None:
    """After the job's final state is shown, `tab`'s timer ticks at most once more, then never."""
    finished = time.monotonic()
    page.wait_for_timeout((POLL_S + QUIET_S) * 1000)  # silence can only be waited for
    late = ticks.of(tab, finished)
    assert len(late) <= 1, late
    assert ticks.of(tab, finished + POLL_S) == []


def start_evaluation(page) -> str:
    """Press Run evaluation; the name of the run it queued."""
    before = element_text(page, "eval-status")
    page.locator("#eval-run").click()
    expect(page.locator("#eval-status")).not_to_have_text(before)
    expect(page.locator("#eval-status")).to_contain_text("queued")
    return re.search(r"runs/(eval-[\w-]+)", element_text(page, "eval-status")).group(1)


def test_timers_tick_only_while_an_evaluation_runs(studio, page, tiny_qwen2_dir: Path) -> None:
    ticks = TimerTicks(page, studio.url)
    page.goto(studio.url)
    open_tab(page, "Train")
    expect(page.locator("#train-run")).to_contain_text("No training run yet")
    open_tab(page, "Evaluate")  # both tabs shown once: their timers are on the page
    expect(page.locator("#eval-progress")).to_contain_text("No evaluation running.")
    page.wait_for_timeout(QUIET_S * 1000)  # nothing to wait for: an idle page sends no request
    assert ticks.ticks == []

    choose_custom(page, "eval-model", tiny_qwen2_dir)
    choose(page, "eval-dataset", "demo_test")
    fill(page, "eval-limit", 4)
    fill(page, "eval-max-new", 16)
    started = time.monotonic()
    first = start_evaluation(page)
    ticks.wait_for(page, "eval", started)  # the Run click turned the Evaluate timer on
    second = start_evaluation(
        page
    )  # queued behind the first (one job at a time): live for a while yet

    reloaded = time.monotonic()
    page.reload()  # a reopened page re-attaches to the queued or running evaluations
    open_tab(page, "Evaluate")
    ticks.wait_for(page, "eval", reloaded)
    for run_name in (first, second):
        expect(table_row(page, "eval-runs", run_name)).to_contain_text(
            "succeeded", timeout=JOB_TIMEOUT_MS
        )
    expect(page.locator("#eval-progress")).to_contain_text("No evaluation running.")
    expect(page.locator("#eval-comparison")).to_contain_text(second)
    assert (
        ticks.of("train") == [] and ticks.of("pairs") == []
    )  # no training or mining job: never on
    assert_ticking_stopped(page, ticks, "eval")


def test_train_timer_follows_a_training_run_then_stops(studio, page, tiny_qwen2_dir: Path) -> None:
    ticks = TimerTicks(page, studio.url)
    page.goto(studio.url)
    open_tab(page, "Train")
    expect(page.locator("#train-run")).to_contain_text("No training run yet")
    wait_for_train_form(page)
    choose_custom(page, "train-model", tiny_qwen2_dir)
    fill(page, "train-max-steps", 2)
    fill(page, "train-cutoff", 256)
    started = time.monotonic()
    page.locator("#train-start").click()
    expect(page.locator("#train-status")).to_contain_text("queued")
    run_name = re.search(r"runs/(sft-[\w-]+)", element_text(page, "train-status")).group(1)
    ticks.wait_for(page, "train", started)  # the Start click turned the Train timer on

    expect(table_row(page, "train-history", run_name)).to_contain_text(
        "succeeded", timeout=JOB_TIMEOUT_MS
    )
    page.wait_for_function(f"({LOSS_POINTS_JS})() === 2")  # the last refresh drew the final points
    expect(page.locator("#train-run")).to_contain_text("succeeded")
    assert ticks.of("eval") == [] and ticks.of("pairs") == []
    assert_ticking_stopped(page, ticks, "train")
