"""Headless Chromium for the browser tests, driven through chromedriver's W3C WebDriver HTTP API (stdlib only).

Chromium comes from `make browser-deps` (Debian `chromium` + `chromium-driver`); tests skip only if that
cannot install it. Used by test_mlflow_ui_browser.py (the MLflow UI) and test_report_browser.py (the report).
"""
from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.ray_cluster import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--window-size=1600,1000"]


def browser_or_skip():
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        subprocess.run(["make", "browser-deps"], cwd=ROOT, capture_output=True, timeout=900)
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip("chromium/chromedriver not installed and `make browser-deps` could not install them "
                    "(needs root and the Debian archive)")


def wait_http(url: str, proc: subprocess.Popen, timeout: float, log: Path | None = None):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}: {log.read_text()[-2000:] if log else ''}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except Exception:
            time.sleep(0.5)
    raise TimeoutError(f"{url} not up after {timeout}s")


def stop(proc: subprocess.Popen):
    """Stop a process we started in its own session, with everything it spawned."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


class WebDriver:
    """The few W3C WebDriver commands we need, over chromedriver's HTTP API."""

    def __init__(self, tmp: Path):
        self.port = free_port()
        self.proc = subprocess.Popen([CHROMEDRIVER, f"--port={self.port}"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        self.base = f"http://127.0.0.1:{self.port}"
        wait_http(self.base + "/status", self.proc, 30)
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": CHROMIUM, "args": CHROME_ARGS + [f"--user-data-dir={tmp / 'chrome-profile'}"]}}}}
        self.session = f"{self.base}/session/" + self._call("POST", f"{self.base}/session", caps)["sessionId"]

    def _call(self, method, url, body=None):
        req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(), method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read())["value"]

    def get(self, url):
        self._call("POST", self.session + "/url", {"url": url})

    def js(self, script, *args):
        return self._call("POST", self.session + "/execute/sync", {"script": script, "args": list(args)})

    def text(self) -> str:
        return self.js("return document.body ? document.body.innerText : ''")

    def wait_text(self, needles, timeout=60.0) -> str:
        t0, txt = time.time(), ""
        while time.time() - t0 < timeout:
            txt = self.text()
            if all(n in txt for n in needles):
                return txt
            time.sleep(0.5)
        raise AssertionError(f"page never showed {needles}; it shows:\n{txt[:3000]}")

    def set_window(self, width: int, height: int):
        self._call("POST", self.session + "/window/rect", {"width": width, "height": height})

    def screenshot(self, path: Path):
        path.write_bytes(base64.b64decode(self._call("GET", self.session + "/screenshot")))

    def quit(self):
        try:
            self._call("DELETE", self.session)
        finally:
            stop(self.proc)
