"""The studio page renders its five tabs in a real browser."""


def test_studio_page_shows_the_five_tabs(studio, page, screenshot) -> None:
    page.goto(studio.url)
    for tab in ("Datasets", "Train", "Pairs", "Playground", "Evaluate"):
        assert page.get_by_role("tab", name=tab).is_visible()
    screenshot(page, "studio-home")
