"""Look at the project the way a reader does, in a real headless browser (issue: figures and demos).

    .venv/bin/python scripts/browser_check.py notebooks [--results results] [--out /tmp/browser]
    .venv/bin/python scripts/browser_check.py demo      [--out /tmp/browser]

``notebooks``: converts every executed notebook in ``<results>/executed/`` to HTML with nbconvert (in a
temporary copy of the results layout, so ``../figures/*.png`` resolves as it does in JupyterLab and on
GitHub), opens each in Chromium, checks that every image it shows loaded (naturalWidth > 0) and saves a
full-page screenshot ``<out>/<notebook>.png``. Exit 1 when an image is broken.

``demo``: starts JupyterLab on a free port, opens ``notebooks/demo_locator.ipynb``, runs all cells,
waits for the demo's figure, moves the *blur kernel* slider with the keyboard and checks that the
figure changed (screenshots ``<out>/demo_before.png`` and ``demo_after.png``); then uploads a picture to the
photo demo through its file chooser (ipywidgets 8's FileUpload opens one; Playwright's
``expect_file_chooser`` answers it): a test fake placed into a picture turned on its side, made here
(``<out>/upload_check.png``), and checks that its verdict appears first, that the built-in example's text is
gone and that the overlay shown changed (screenshot ``<out>/demo_upload.png``). Exit 1 otherwise.

Needs Playwright's Python package (``pip install playwright``; no browser download) and Debian's
``chromium-headless-shell`` (``apt-get install chromium-headless-shell``), driven through
``executable_path``. CI does not run it; run it before closing a change to figures or the demo.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("FKLIB_CHROMIUM", "/usr/bin/chromium-headless-shell")


def _browser(p):
    if not Path(CHROMIUM).exists():
        sys.exit(f"browser_check: {CHROMIUM} not found (apt-get install chromium-headless-shell, or set FKLIB_CHROMIUM)")
    return p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])


def check_notebooks(results: Path, out: Path) -> int:
    from playwright.sync_api import sync_playwright

    executed = sorted((results / "executed").glob("*.ipynb"))
    if not executed:
        sys.exit(f"browser_check: no executed notebooks in {results / 'executed'}")
    tmp = Path(tempfile.mkdtemp(prefix="fklib-html-"))
    (tmp / "executed").mkdir()
    os.symlink((results / "figures").resolve(), tmp / "figures")
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--output-dir", str(tmp / "executed"),
                    *map(str, executed)], check=True, capture_output=True)
    out.mkdir(parents=True, exist_ok=True)
    broken_total = 0
    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for nb in executed:
            html = tmp / "executed" / f"{nb.stem}.html"
            page.goto(html.as_uri())
            page.wait_for_load_state("load")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => ({src: e.getAttribute('src').slice(0, 80), ok: e.complete && e.naturalWidth > 0}))")
            broken = [i["src"] for i in images if not i["ok"]]
            broken_total += len(broken)
            page.screenshot(path=str(out / f"{nb.stem}.png"), full_page=True)
            print(f"{nb.stem}: {len(images)} images, {len(broken)} broken{': ' + ', '.join(broken) if broken else ''}")
        browser.close()
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"screenshots in {out}")
    return 1 if broken_total else 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_demo(out: Path, timeout_s: float = 240.0) -> int:
    from playwright.sync_api import sync_playwright

    port, token = _free_port(), "fklib-check"
    lab = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", f"--port={port}",
                            f"--IdentityProvider.token={token}", "--ServerApp.root_dir=" + str(ROOT)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    out.mkdir(parents=True, exist_ok=True)
    try:
        for _ in range(120):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = _browser(p)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/lab/tree/notebooks/demo_locator.ipynb?token={token}")
            page.wait_for_selector(".jp-Notebook", timeout=60_000)
            try:  # a fresh server asks which kernel to start
                page.click(".jp-Dialog button:has-text('Select')", timeout=15_000)
            except Exception:  # noqa: BLE001 - no dialog: the kernel was chosen already
                pass
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
            page.click(".lm-MenuBar-itemLabel:text-is('Run')", timeout=30_000)
            page.click(".lm-Menu-itemLabel:text-is('Run All Cells')", timeout=10_000)
            figure = ".widget-output img, .jupyter-widgets-output-area img"
            try:
                page.wait_for_selector(figure, timeout=timeout_s * 1000)
            except Exception:
                page.screenshot(path=str(out / "demo_failed.png"), full_page=False)
                print(f"demo: no figure appeared in {timeout_s:.0f} s; see {out / 'demo_failed.png'}")
                raise
            time.sleep(2)
            before = page.eval_on_selector(figure, "e => e.src")
            page.screenshot(path=str(out / "demo_before.png"), full_page=False)
            slider = page.locator(".widget-slider", has_text="blur kernel").locator(".noUi-handle, .ui-slider-handle").first
            slider.focus()
            for _ in range(3):
                page.keyboard.press("ArrowRight")
            deadline = time.time() + timeout_s
            after = before
            while time.time() < deadline and after == before:
                time.sleep(1)
                after = page.eval_on_selector(figure, "e => e.src")
            page.screenshot(path=str(out / "demo_after.png"), full_page=False)
            uploaded = _check_upload(page, out, timeout_s)
            browser.close()
        changed = after != before
        print(f"demo: figure {'changed' if changed else 'did NOT change'} after moving the blur slider; "
              f"screenshots {out / 'demo_before.png'}, {out / 'demo_after.png'}")
        return 0 if changed and uploaded else 1
    finally:
        lab.terminate()
        try:
            lab.wait(10)
        except subprocess.TimeoutExpired:
            lab.kill()


def _upload_picture(out: Path) -> Path:
    """A picture to upload: a StarGAN test fake placed into a background, the whole turned on its side."""
    import numpy as np
    from PIL import Image

    from fklib.data import load_set
    from fklib.faces import compose

    fake = next(it for it in load_set("stargan128", split="test") if it.label == 1)
    pic, _ = compose.place_faces(compose.background(600, 800, seed=11), [fake.image], [compose.placement(2.2, 5, (400, 300))])
    path = out / "upload_check.png"
    Image.fromarray(np.ascontiguousarray(np.rot90(pic, 1))).save(path)
    return path


def _check_upload(page, out: Path, timeout_s: float) -> bool:
    """Upload a picture to the photo demo and check that its result replaces the built-in example's."""
    path = _upload_picture(out)
    shown = "document.body.innerText"
    if "Built-in example: two_faces.png" not in page.evaluate(shown):
        page.screenshot(path=str(out / "demo_upload_failed.png"), full_page=True)
        print("demo: the photo demo's built-in example is not shown")
        return False
    overlay = "() => Array.from(document.querySelectorAll('.widget-output img, .jupyter-widgets-output-area img'))" \
              ".map(e => e.src).join('|')"
    images_before = page.evaluate(overlay)
    button = page.locator(".widget-upload").first
    button.scroll_into_view_if_needed()
    with page.expect_file_chooser(timeout=30_000) as chooser:
        button.click()
    chooser.value.set_files(str(path))
    try:
        page.wait_for_function(f"() => {shown}.includes('{path.name}: ')", timeout=timeout_s * 1000)
        page.wait_for_function(f"() => {shown}.includes('your picture')", timeout=timeout_s * 1000)
    except Exception:  # noqa: BLE001 - report with a screenshot
        page.screenshot(path=str(out / "demo_upload_failed.png"), full_page=True)
        print(f"demo: no result for the uploaded picture in {timeout_s:.0f} s; see {out / 'demo_upload_failed.png'}")
        return False
    time.sleep(1)
    text = page.evaluate(shown)
    verdict = next((line for line in text.splitlines() if line.startswith(f"{path.name}: ")), "")
    example_gone = "Built-in example: two_faces.png" not in text
    images_changed = page.evaluate(overlay) != images_before
    page.locator(".widget-upload").first.scroll_into_view_if_needed()
    page.screenshot(path=str(out / "demo_upload.png"), full_page=False)
    ok = bool(verdict) and example_gone and images_changed
    print(f"demo: upload {'OK' if ok else 'FAILED'}: verdict {verdict!r}; built-in example's text "
          f"{'gone' if example_gone else 'still shown'}; overlay {'changed' if images_changed else 'unchanged'}; "
          f"screenshot {out / 'demo_upload.png'}")
    return ok


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=("notebooks", "demo"))
    ap.add_argument("--results", type=Path, default=ROOT / "results")
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "fklib-browser")
    args = ap.parse_args(argv)
    return check_notebooks(args.results, args.out) if args.what == "notebooks" else check_demo(args.out)


if __name__ == "__main__":
    sys.exit(main())
