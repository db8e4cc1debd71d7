"""The whole post-training loop timed from the browser alone: base → SFT → pairs → DPO → evaluate.

    python bench/bench_browser_loop.py [--pairs-limit 16] [--pairs-n 4] [--accept 8]
                                       [--eval-limit 48] [--keep DIR] [--screenshots DIR]

A studio (`python app.py`, as tests/ui/conftest.py starts it) serves a fresh temporary
workspace (demo data registered) on a free port; Playwright drives Debian's chromium
through it, nothing else touches the workspace:

1. Train tab: Load file `configs/demo_sft.yaml`, Start, wait for the run to succeed.
2. Pairs tab: the built-in model + the SFT adapter (picked from the list), demo_train,
   n and question limit from the options, Start mining, wait for the job.
3. Curate with the keyboard: `a` accepts the pair shown, `--accept` times (or every pair).
4. Export the accepted pairs as `demo_pairs`.
5. Train tab: Load file `configs/demo_dpo.yaml` (the form takes the newest SFT adapter), Start,
   wait.
6. Evaluate tab: base, base + SFT adapter, base + DPO adapter on demo_test (`--eval-limit`
   questions), one job after the other, each waited for.

The model is the real built-in model (`builtin:qwen2.5-coder-0.5b-instruct`) on the CPU
unless a GPU is visible. Prints one JSON line per step {"step", "seconds", ...} and a
`total` line (with the CPU seconds the studio process itself and the browser used, apart
from the jobs); exits 1 (with the studio log's tail) when a step fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from studio.testing.gestures import choose, element_text, fill, open_tab, wait_for_train_form

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STEP_TIMEOUT_MS = 60 * 60 * 1000  # a job may take long on a busy CPU; the loop is what is timed
UI_TIMEOUT_MS = 120_000
FINAL = re.compile(r"succeeded|failed|cancelled")


class LoopError(RuntimeError):
    """A step of the loop did not end as it should."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_studio(workspace: Path, log_path: Path) -> tuple[subprocess.Popen, str]:
    """`python app.py` on a free port, answering (as tests/ui/conftest.py start_studio)."""
    port = free_port()
    env = {**os.environ, "STUDIO_WORKSPACE": str(workspace)}
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(port), "--workspace", str(workspace)],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(f"{url}/config", timeout=5).close()
            return process, url
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise LoopError(f"the studio did not start; log:\n{log_path.read_text()}") from None
            time.sleep(1)


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of the process itself) from /proc/PID/stat; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_split(studio_pid: int) -> dict[str, float]:
    """CPU seconds so far of the studio process alone and of the browser (Playwright's driver and
    chromium: this process's other descendants), to tell the page's own cost from the jobs'."""
    stats = {
        int(entry.name): _stat(int(entry.name))
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit()
    }
    stats = {pid: stat for pid, stat in stats.items() if stat is not None}

    def under(pid: int, ancestor: int) -> bool:
        while pid > 1 and pid in stats:
            if pid == ancestor:
                return True
            pid = stats[pid][0]
        return False

    me = os.getpid()
    browser = sum(
        cpu
        for pid, (_, cpu) in stats.items()
        if pid != me and under(pid, me) and not under(pid, studio_pid)
    )
    return {
        "studio_cpu_s": round(stats.get(studio_pid, (0, 0.0))[1], 1),
        "browser_cpu_s": round(browser, 1),
    }


# --- page helpers -------------------------------------------------------------------------


def wait_for_run(page, table_id: str, run_name: str) -> list[str]:
    """Wait until the runs table `table_id` shows `run_name` finished; its cells (fails unless
    succeeded)."""
    from playwright.sync_api import expect

    row = page.locator(f"#{table_id} [role=row]", has_text=run_name)
    expect(row).to_contain_text(FINAL, timeout=STEP_TIMEOUT_MS)
    cells = [cell.strip() for cell in row.locator("[role=gridcell]").all_inner_texts()]
    if "succeeded" not in cells:
        raise LoopError(f"run {run_name} did not succeed: {cells}")
    return cells


def load_config(page, config: str) -> None:
    from playwright.sync_api import expect

    open_tab(page, "Train")
    wait_for_train_form(page)
    choose(page, "train-ready", config)
    page.locator("#train-load").click()
    expect(page.locator("#train-status")).to_contain_text(f"Loaded {config}", timeout=UI_TIMEOUT_MS)


def start_training(page) -> Path:
    """Press Start training; the run folder named on the page."""
    from playwright.sync_api import expect

    page.locator("#train-start").click()
    expect(page.locator("#train-status")).to_contain_text(
        re.compile("queued|Could not"), timeout=UI_TIMEOUT_MS
    )
    found = re.search(r"queued in (\S+)", element_text(page, "train-status"))
    if not found:
        raise LoopError(f"training did not start: {element_text(page, 'train-status')}")
    return Path(found.group(1).rstrip("."))


# --- the loop's steps -----------------------------------------------------------------------


def sft(page) -> dict:
    load_config(page, "configs/demo_sft.yaml")
    run_dir = start_training(page)
    cells = wait_for_run(page, "train-history", run_dir.name)
    return {
        "run": run_dir.name,
        "steps": cells[6],
        "loss": cells[7],
        "adapter": str(run_dir / "adapter"),
    }


def mine_pairs(page, adapter: str, limit: int, n: int, max_new_tokens: int) -> dict:
    page.reload()  # the adapter list of the Pairs tab is read on page load
    open_tab(page, "Pairs")
    choose(page, "pairs-adapters", adapter)
    fill(page, "pairs-n", n)
    fill(page, "pairs-limit", limit)
    fill(page, "pairs-max-new-tokens", max_new_tokens)
    page.locator("#pairs-mine").click()
    mining = page.locator("#pairs-mining")
    mining.get_by_text(FINAL).wait_for(timeout=STEP_TIMEOUT_MS)
    line = mining.inner_text()
    if "succeeded" not in line:
        raise LoopError(f"mining did not succeed: {line}")
    pairs = re.search(r"pairs: ([^;·]+)", line)
    return {"pairs": pairs.group(1).strip() if pairs else "", "line": " ".join(line.split())}


def curate(page, accept: int) -> dict:
    """Accept pairs with the `a` key, one after another, as a person reviewing them would."""
    progress = page.locator("#pairs-progress")
    progress.get_by_text(re.compile(r"\d+ of \d+ reviewed")).wait_for(timeout=UI_TIMEOUT_MS)
    total = int(re.search(r"of (\d+) reviewed", progress.inner_text()).group(1))
    if total == 0:
        raise LoopError(
            "mining gave no pair to curate (every sample was right, or none was proven wrong)"
        )
    wanted = total if accept <= 0 else min(accept, total)
    for done in range(1, wanted + 1):
        progress.click()  # focus the page, not a text field
        page.keyboard.press("a")
        progress.get_by_text(f"{done} of {total} reviewed").wait_for(timeout=UI_TIMEOUT_MS)
    return {"accepted": wanted, "pairs": total}


def export(page, name: str) -> dict:
    fill(page, "pairs-export-name", name)
    page.locator("#pairs-export").click()
    summary = page.locator("#pairs-export-summary")
    summary.get_by_text("Exported").wait_for(timeout=UI_TIMEOUT_MS)
    rows = re.search(r"(\d+) pair\(s\)", summary.inner_text())
    return {"dataset": name, "rows": int(rows.group(1)) if rows else None}


def dpo(page, sft_adapter: str) -> dict:
    from playwright.sync_api import expect

    load_config(page, "configs/demo_dpo.yaml")
    expect(page.locator("#train-status")).to_contain_text(
        "Adapters holds the newest", timeout=UI_TIMEOUT_MS
    )
    expect(page.locator("#train-yaml")).to_contain_text(sft_adapter, timeout=UI_TIMEOUT_MS)
    run_dir = start_training(page)
    cells = wait_for_run(page, "train-history", run_dir.name)
    return {
        "run": run_dir.name,
        "steps": cells[6],
        "loss": cells[7],
        "adapter": str(run_dir / "adapter"),
    }


def evaluate(page, adapter: str | None, limit: int) -> dict:
    from playwright.sync_api import expect

    page.reload()  # a fresh form: no adapter left from the previous evaluation, new adapters listed
    open_tab(page, "Evaluate")
    if adapter:
        choose(page, "eval-adapters", adapter)
    choose(page, "eval-dataset", "demo_test")
    fill(page, "eval-limit", limit)
    page.locator("#eval-run").click()
    expect(page.locator("#eval-status")).to_contain_text(
        re.compile("queued|Could not"), timeout=UI_TIMEOUT_MS
    )
    found = re.search(r"runs/(eval-[\w-]+)", element_text(page, "eval-status"))
    if not found:
        raise LoopError(f"evaluation did not start: {element_text(page, 'eval-status')}")
    cells = wait_for_run(page, "eval-runs", found.group(1))
    return {
        "run": found.group(1),
        "adapters": cells[4],
        "questions": cells[5],
        "ex": cells[6],
        "ci95": cells[7],
    }


def screenshots(page, folder: Path) -> dict:
    """A full-page PNG of each tab as the loop left it, `<tab>.png` in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    page.reload()
    page.locator("#datasets-table").get_by_text("demo_test").wait_for()
    written = []
    for tab in ("Datasets", "Train", "Pairs", "Playground", "Evaluate", "Export"):
        open_tab(page, tab)
        page.wait_for_timeout(1500)  # the tab's refresh on selection draws its tables
        path = folder / f"{tab.lower()}.png"
        page.screenshot(path=str(path), full_page=True)
        written.append(str(path))
    return {"files": written}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs-limit", type=int, default=16, help="questions to mine (Pairs tab)")
    parser.add_argument("--pairs-n", type=int, default=4, help="samples per question (Pairs tab)")
    parser.add_argument("--pairs-max-new-tokens", type=int, default=128)
    parser.add_argument(
        "--accept", type=int, default=8, help="pairs accepted with the 'a' key (0: all)"
    )
    parser.add_argument("--eval-limit", type=int, default=48, help="demo_test questions (48: all)")
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep the workspace and studio log under DIR "
        "(default: a temporary folder, removed at the end)",
    )
    parser.add_argument(
        "--screenshots",
        type=Path,
        help="after the loop, save a full-page screenshot of each tab (1440 px wide) into DIR",
    )
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="browser-loop-")) if args.keep is None else args.keep
    root.mkdir(parents=True, exist_ok=True)
    log_path = root / "studio.log"
    figures: dict[str, float] = {}
    started = time.monotonic()

    def step(name: str, fn, *fn_args) -> dict:
        begin = time.monotonic()
        extra = fn(*fn_args) or {}
        figures[name] = round(time.monotonic() - begin, 1)
        print(json.dumps({"step": name, "seconds": figures[name], **extra}), flush=True)
        return extra

    process = None
    try:
        begin = time.monotonic()
        process, url = start_studio(root / "workspace", log_path)
        figures["start_studio"] = round(time.monotonic() - begin, 1)
        print(json.dumps({"step": "start_studio", "seconds": figures["start_studio"]}), flush=True)
        executable = shutil.which("chromium") or "/usr/bin/chromium"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=executable, headless=True, args=CHROMIUM_FLAGS
            )
            page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.goto(url)
            page.locator("#datasets-table").get_by_text("demo_test").wait_for()
            sft_run = step("sft", sft, page)
            step(
                "mine_pairs",
                mine_pairs,
                page,
                sft_run["adapter"],
                args.pairs_limit,
                args.pairs_n,
                args.pairs_max_new_tokens,
            )
            step("curate", curate, page, args.accept)
            step("export", export, page, "demo_pairs")
            dpo_run = step("dpo", dpo, page, sft_run["adapter"])
            step("eval_base", evaluate, page, None, args.eval_limit)
            step("eval_sft", evaluate, page, sft_run["adapter"], args.eval_limit)
            step("eval_dpo", evaluate, page, dpo_run["adapter"], args.eval_limit)
            cpu = cpu_split(process.pid)
            if args.screenshots is not None:
                step("screenshots", screenshots, page, args.screenshots)
            browser.close()
    except Exception as error:  # noqa: BLE001 - report where the loop stopped, with the studio's log
        tail = log_path.read_text()[-4000:] if log_path.exists() else ""
        print(
            json.dumps(
                {
                    "step": "error",
                    "seconds": round(time.monotonic() - started, 1),
                    "error": f"{type(error).__name__}: {error}"[:2000],
                }
            ),
            flush=True,
        )
        print(tail, file=sys.stderr)
        return 1
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    kept = {"workspace": str(root / "workspace")} if args.keep is not None else {}
    print(
        json.dumps(
            {
                "step": "total",
                "seconds": round(time.monotonic() - started, 1),
                "cpus": os.cpu_count(),
                **cpu,
                **kept,
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
