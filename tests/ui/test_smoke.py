"""The studio page renders its six tabs in a real browser."""

from playwright.sync_api import expect


def test_studio_page_shows_the_six_tabs(studio, page, screenshot) -> None:
    page.goto(studio.url)
    for tab in ("Datasets", "Train", "Pairs", "Playground", "Evaluate", "Export"):
        expect(page.get_by_role("tab", name=tab)).to_be_visible()
    screenshot(page, "studio-home")
