"""A small headless-browser helper for tests: Debian's Chromium driven over the DevTools protocol.

Chromium runs headless with ``--remote-debugging-pipe``: DevTools protocol messages (JSON, each
ended by a NUL byte) go over two pipes the child sees as file descriptors 3 (commands in) and 4
(replies and events out). That is the protocol Playwright itself speaks to Chromium, with no
websocket, no open port and no Python dependency. ``browser()`` skips the test (pytest.skip)
when Chromium is not installed.

    with browser(width=900, height=700) as b:
        b.open(path_to_html)
        b.evaluate("document.title")
        b.press("ArrowRight")
        png = b.screenshot()
        assert not blank(png)
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import io
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
TIMEOUT = 60.0
"""Seconds to wait for one reply before giving up (a hang guard, not a performance check)."""

_KEYS = {
    "ArrowLeft": 37,
    "ArrowUp": 38,
    "ArrowRight": 39,
    "ArrowDown": 40,
    "PageUp": 33,
    "PageDown": 34,
    "Home": 36,
    "End": 35,
    "Tab": 9,
    "Enter": 13,
    " ": 32,
}


class BrowserError(RuntimeError):
    """Chromium failed, or answered a command with an error."""


def chromium() -> str:
    """The Chromium executable, or skip the calling test with a message saying how to get it."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    return CHROMIUM


class Browser:
    """One headless Chromium with one page; see `browser()`."""

    def __init__(self, process: subprocess.Popen[bytes], to_browser: int, from_browser: int) -> None:
        self._process = process
        self._out = to_browser
        self._in = from_browser
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self._session: str | None = None

    # -- protocol ---------------------------------------------------------------------------

    def send(self, method: str, params: dict[str, Any] | None = None, *, browser: bool = False) -> Any:
        """Send one command (to the page unless `browser`) and return its result."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if not browser and self._session is not None:
            message["sessionId"] = self._session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._out, data) :]
        while True:
            reply = self._receive()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def _receive(self) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._in], [], [], max(0.0, left))
            if not ready:
                raise BrowserError(f"no reply from Chromium within {TIMEOUT:g} s")
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium exited (code {self._process.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        result: dict[str, Any] = json.loads(message)
        return result

    def wait_for(self, method: str) -> dict[str, Any]:
        """The next event `method` (one already received counts)."""
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while True:
            event = self._receive()
            if event.get("method") == method:
                return event
            self.events.append(event)

    # -- page -------------------------------------------------------------------------------

    def _attach(self, width: int, height: int) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, browser=True)["targetId"]
        attached = self.send("Target.attachToTarget", {"targetId": target, "flatten": True}, browser=True)
        self._session = attached["sessionId"]
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.resize(width, height)

    def resize(self, width: int, height: int) -> None:
        """Set the viewport (CSS pixels, device scale 1)."""
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def open(self, target: str | Path) -> None:
        """Load a file path or URL and wait for its load event."""
        url = Path(target).resolve().as_uri() if isinstance(target, Path) else target
        self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]
        reply = self.send("Page.navigate", {"url": url})
        if reply.get("errorText"):
            raise BrowserError(f"cannot open {url}: {reply['errorText']}")
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited; errors raised)."""
        reply = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"JavaScript error: {text}")
        return reply["result"].get("value")

    def errors(self) -> list[str]:
        """Uncaught JavaScript exceptions and console errors seen so far."""
        out = []
        for e in self.events:
            if e.get("method") == "Runtime.exceptionThrown":
                out.append(str(e["params"]["exceptionDetails"].get("exception", {}).get("description")))
            elif e.get("method") == "Runtime.consoleAPICalled" and e["params"].get("type") == "error":
                out.append(" ".join(str(a.get("value")) for a in e["params"].get("args", [])))
        return out

    def press(self, key: str) -> None:
        """Press and release one key (named as in KeyboardEvent.key) in the focused element."""
        code = _KEYS[key]
        base = {"key": key, "code": key, "windowsVirtualKeyCode": code, "nativeVirtualKeyCode": code}
        self.send("Input.dispatchKeyEvent", {"type": "rawKeyDown", **base})
        self.send("Input.dispatchKeyEvent", {"type": "keyUp", **base})

    def media(self, kind: str) -> None:
        """Emulate a CSS media type ("print", "screen"; "" to stop)."""
        self.send("Emulation.setEmulatedMedia", {"media": kind})

    def screenshot(self, *, full_page: bool = False) -> bytes:
        """A PNG of the viewport (or the whole page)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
        return base64.b64decode(self.send("Page.captureScreenshot", params)["data"])

    def close(self) -> None:
        with contextlib.suppress(BrowserError, OSError):
            self.send("Browser.close", browser=True)
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._out)
        os.close(self._in)


@contextlib.contextmanager
def browser(width: int = 1000, height: int = 800) -> Iterator[Browser]:
    """A headless Chromium with one blank page of the given viewport; closed on exit."""
    exe = chromium()
    profile = tempfile.mkdtemp(prefix="allocate-chromium-")
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()

    def on_fds_3_and_4() -> None:  # runs in the child, before exec
        # Move the pipe ends out of the way first: they may themselves be fds 3 or 4.
        r = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)
        w = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
        os.dup2(r, 3)
        os.dup2(w, 4)
        os.close(r)
        os.close(w)

    args = [
        exe,
        "--headless",
        "--remote-debugging-pipe",
        "--no-sandbox",  # tests run as root in CI, where the sandbox refuses to start
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--mute-audio",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
        "about:blank",
    ]
    # close_fds=False keeps the new fds 3 and 4 open; every other fd Python opened is
    # close-on-exec already. (pass_fds would fail where the parent has no fd 3 or 4.)
    process = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=False,
        preexec_fn=on_fds_3_and_4,
    )
    os.close(to_child_r)
    os.close(from_child_w)
    b = Browser(process, to_child_w, from_child_r)
    try:
        b._attach(width, height)
        yield b
    finally:
        b.close()
        shutil.rmtree(profile, ignore_errors=True)


def blank(png: bytes, *, min_colours: int = 8) -> bool:
    """True if a PNG is (nearly) one flat colour: fewer than `min_colours` distinct colours."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    return colours is not None and len(colours) < min_colours
