"""The MLflow UI in a real browser: a tiny real sweep (jobs/sweep.py, local Ray) tracks into SQLite, an
`mlflow server` on 127.0.0.1 serves it, and headless Chromium (driven through chromedriver's WebDriver
HTTP API, stdlib only) must show the sweep's parent run, its child runs and their metrics.

Screenshot: VISSWEEP_UPDATE_SCREENSHOT=1 also writes docs/mlflow_ui.png (otherwise it stays in tmp).
Chromium comes from `make browser-deps` (Debian `chromium` + `chromium-driver`; tests/dashboards/browser.py);
the test skips only if that cannot install it.
"""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.dashboards.browser import WebDriver, browser_or_skip, stop, wait_http
from tests.ray_cluster import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

CONFIG = """\
name: ui-test
models: [tiny-llava]
benchmarks:
  - {name: shapes, lite: 8}
grid:
  - {strategy: keep_all}
  - {strategy: vispruner, budget: [64], ratio: [0.5]}
controls: false
shard_size: 8
replicas: {count: 1}
generation: {max_new_tokens: 2, batch_size: 8}
mlflow: {experiment: vissweep-ui}
"""
SWEEP = "ui-sweep"
@pytest.fixture(scope="module")
def served_sweep(tmp_path_factory):
    """(mlflow base url, experiment id, {run name: (run id, metrics)}) for a real tiny sweep."""
    browser_or_skip()
    from mlflow.tracking import MlflowClient

    d = tmp_path_factory.mktemp("ui")
    (d / "ui.yaml").write_text(CONFIG)
    store = d / "store"
    store.mkdir()
    uri = f"sqlite:///{store}/mlflow.db"
    MlflowClient(uri).search_experiments()        # create the schema before two processes open the database
    port = free_port()
    log = d / "server.log"
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                               "--backend-store-uri", uri, "--artifacts-destination", str(d / "artifacts"),
                               "--workers", "1"],
                              stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS")}
        sweep = subprocess.run([sys.executable, "jobs/sweep.py", "--config", str(d / "ui.yaml"), "--store", str(store),
                                "--sweep-id", SWEEP, "--address", "local"],
                               cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
        assert sweep.returncode == 0, sweep.stdout[-3000:] + sweep.stderr[-3000:]
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/health", server, 240, log)
        client = MlflowClient(base)                # read back through the server the browser uses
        exp = client.get_experiment_by_name("vissweep-ui")
        runs = client.search_runs([exp.experiment_id], f"tags.sweep_id = '{SWEEP}'")
        by_name = {r.info.run_name: (r.info.run_id, r.data.metrics, r.data.tags) for r in runs}
        yield base, exp.experiment_id, by_name, d
    finally:
        stop(server)


def _close_side_panel(browser):
    """Close MLflow 3's assistant side panel if it is open (it hides half of the run table)."""
    browser.js("""const b = document.querySelector('[data-component-id="mlflow.assistant.chat_panel.close"]');
                  if (b) b.click();""")
    time.sleep(1.0)


@pytest.fixture(scope="module")
def browser(served_sweep):
    wd = WebDriver(served_sweep[3])
    yield wd
    wd.quit()


def test_sweep_runs_and_metrics_in_the_mlflow_ui(served_sweep, browser):
    base, exp_id, runs, tmp = served_sweep
    children = {n: v for n, v in runs.items() if v[2].get("vissweep.role") == "point"}
    assert SWEEP in runs and len(children) == 2
    vis_name = next(n for n in children if "/vispruner/" in n)
    assert vis_name == "tiny-llava/shapes/vispruner/T64-r0.5"

    # experiment page, opened as jobs/sweep.py prints it (sweeps.tracking.runs_view): the runs table, not the
    # GenAI overview; the parent run, and its children once the group is expanded
    from mlflow.tracking import MlflowClient

    from sweeps.tracking import KIND_RUNS, KIND_TAG, runs_view

    assert MlflowClient(base).get_experiment(exp_id).tags[KIND_TAG] == KIND_RUNS
    browser.get(f"{base}/{runs_view(exp_id)}")
    browser.wait_text([SWEEP, "3 matching runs"])
    assert "/runs?" in browser.js("return location.href") and "workflowType=machine_learning" in browser.js(
        "return location.href")
    clicked = browser.js("""
        const cell = [...document.querySelectorAll('[role=gridcell]')].find(c => c.innerText.includes(arguments[0]));
        const b = cell && cell.querySelector('button');
        if (b) { b.click(); return true; } return false;""", SWEEP)
    assert clicked, "no expander next to the parent run"
    page = browser.wait_text(list(children))
    assert all(name in page for name in children)
    _close_side_panel(browser)
    browser.screenshot(tmp / "runs.png")

    # a child run's page: its metrics (names and the values MLflow stored) and params
    run_id, metrics, _ = children[vis_name]
    browser.get(f"{base}/#/experiments/{exp_id}/runs/{run_id}")
    page = browser.wait_text([vis_name, "tflops", "final_accuracy"])
    assert "vispruner" in page and "point_id" in page
    _close_side_panel(browser)
    browser.js("""const h = [...document.querySelectorAll('h4')].find(h => h.innerText.startsWith('Metrics'));
                  if (h) h.scrollIntoView();""")
    # the run page's metrics table: {name: displayed value} from its rows
    rows = browser.js("""return [...document.querySelectorAll('[role=row]')].map(r => r.innerText.trim().split(/\\s+/));""")
    shown = {r[0]: r[1] for r in rows if len(r) == 2 and r[0] in metrics}      # (the params table has rows too)
    for key in ("samples", "tflops", "kv_mb", "visual_tokens"):
        assert key in shown, f"metric {key} not on the run page: {sorted(shown)}"
    assert len(shown) >= 8
    for key, value in shown.items():                   # every value the browser shows is the one the sweep logged
        assert float(value) == pytest.approx(metrics[key], rel=1e-9), key
    assert shown["visual_tokens"] == "64"              # vispruner at T = 64
    browser.screenshot(tmp / "run.png")

    from PIL import Image

    shots = [Image.open(tmp / n).convert("RGB") for n in ("runs.png", "run.png")]
    for im in shots:
        arr = np.asarray(im.convert("L"), dtype=np.float32)
        assert arr.shape[0] >= 600 and arr.std() > 10, "screenshot is blank"
    shot = tmp / "mlflow_ui.png"                         # runs list above, the VisPruner run's metrics below
    both = Image.new("RGB", (max(i.width for i in shots), sum(i.height for i in shots)), "white")
    both.paste(shots[0], (0, 0))
    both.paste(shots[1], (0, shots[0].height))
    both.save(shot)
    if os.environ.get("VISSWEEP_UPDATE_SCREENSHOT") == "1":
        shutil.copy(shot, ROOT / "docs" / "mlflow_ui.png")
