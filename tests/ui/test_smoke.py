"""The studio page renders its six tabs in a real browser; a signal dumps the server's stacks."""

from playwright.sync_api import expect

from studio.testing.stacks import dump_studio_stacks


def test_studio_page_shows_the_six_tabs(studio, page, screenshot) -> None:
    page.goto(studio.url)
    for tab in ("Datasets", "Train", "Pairs", "Playground", "Evaluate", "Export"):
        expect(page.get_by_role("tab", name=tab)).to_be_visible()
    screenshot(page, "studio-home")


def test_sigusr1_writes_every_threads_stack_to_the_log_and_the_studio_serves_on(
    studio, page
) -> None:
    stacks = dump_studio_stacks(studio.process, studio.log_path)
    assert "most recent call first" in stacks and "Thread 0x" in stacks, stacks
    assert "studio/commands/serve.py" in stacks, stacks  # the main thread, serving
    # SIGUSR1's default action would have ended the process
    page.goto(studio.url)
    expect(page.get_by_role("tab", name="Datasets")).to_be_visible()
    assert studio.process.poll() is None
