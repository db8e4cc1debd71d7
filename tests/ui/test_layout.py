"""The studio's tables and SQL panels fit a 1440 px and a 1024 px wide window: nothing of them
lies beyond the window's right edge and nothing inside them scrolls or is cut sideways (runs
history, evaluation runs, comparison and drill-down, the pairs review), with the seeded runs'
long errors and SQL in them; the drill-down's result tables show the real column names."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from studio.testing.gestures import choose, open_tab, table_row

VIEWPORTS = ((1440, 900), (1024, 768))
# Elements that overflow sideways: past the window's right edge, or wider inside than shown.
OVERFLOW_JS = """(id) => {
  const root = document.getElementById(id);
  if (!root) return [`#${id} is not on the page`];
  const found = [];
  const right = root.getBoundingClientRect().right;
  if (right > window.innerWidth + 1) found.push(`#${id} ends at ${right} px`);
  for (const node of [root, ...root.querySelectorAll('*')]) {
    const style = getComputedStyle(node);
    const clips = ['auto', 'scroll', 'hidden'].includes(style.overflowX);
    if (clips && node.offsetParent !== null && node.scrollWidth > node.clientWidth + 1) {
      found.push(`#${id} ${node.tagName.toLowerCase()}.${node.className}: ` +
                 `${node.scrollWidth} px inside ${node.clientWidth} px`);
    }
  }
  return found;
}"""
PANELS = {
    "Train": ("train-history",),
    "Evaluate": (
        "eval-runs",
        "eval-comparison",
        "eval-wrong",
        "eval-gold-sql",
        "eval-pred-sql",
        "eval-gold-rows",
        "eval-pred-rows",
    ),
    "Pairs": (
        "pairs-gold",
        "pairs-gold-result",
        "pairs-chosen",
        "pairs-chosen-result",
        "pairs-rejected",
        "pairs-rejected-result",
    ),
}


def overflowing(page: Any, tab: str) -> list[str]:
    return [found for elem_id in PANELS[tab] for found in page.evaluate(OVERFLOW_JS, elem_id)]


@pytest.mark.browser
@pytest.mark.parametrize(("width", "height"), VIEWPORTS)
def test_tables_and_sql_panels_fit_the_window(seeded_studio, page, width, height) -> None:
    page.set_viewport_size({"width": width, "height": height})
    page.goto(seeded_studio.studio.url)
    page.locator("#datasets-table").first.wait_for()
    found = []

    open_tab(page, "Train")
    expect(table_row(page, "train-history", seeded_studio.train_runs[1])).not_to_have_count(0)
    expect(table_row(page, "train-history", "failed")).not_to_have_count(0)
    found += overflowing(page, "Train")

    open_tab(page, "Evaluate")
    expect(page.locator("#eval-comparison")).to_contain_text(seeded_studio.eval_run)
    choose(page, "eval-drill-run", seeded_studio.eval_run)
    page.locator("#eval-status").get_by_text("question(s) wrong").first.wait_for()
    page.locator("#eval-question input").first.click()
    page.get_by_role("option").first.click()
    page.locator("#eval-pred-sql").get_by_text("SELECT").first.wait_for()
    found += overflowing(page, "Evaluate")
    gold_header = page.locator("#eval-gold-rows thead").inner_text()
    assert "c1" not in gold_header.split(), gold_header

    open_tab(page, "Pairs")
    page.locator("#pairs-header").get_by_text("Pair").first.wait_for()
    found += overflowing(page, "Pairs")
    assert not found, f"at {width}x{height}:\n" + "\n".join(found)
