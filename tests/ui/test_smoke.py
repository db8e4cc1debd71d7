"""The studio page renders its five tabs in a real browser."""

from playwright.sync_api import expect


def test_studio_page_shows_the_five_tabs(studio, page, screenshot) -> None:
    page.goto(studio.url)
    for tab in ("Datasets", "Train", "Pairs", "Playground", "Evaluate"):
        expect(page.get_by_role("tab", name=tab)).to_be_visible()
    screenshot(page, "studio-home")
