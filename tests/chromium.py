"""Headless Chromium harness for tests: load a local HTML file, report what a browser saw.

One Chromium process per call, driven over the DevTools protocol on `--remote-debugging-pipe`
(fd 3 = commands to the browser, fd 4 = replies and events; messages are NUL-terminated JSON),
using only the standard library. One session yields everything at once: console errors and
uncaught exceptions (which `--dump-dom`/`--screenshot` runs cannot report), the DOM after the
page's scripts ran, a PNG screenshot, and every URL the page tried to load.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
TIMEOUT_S = 60.0

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]


@dataclass
class RenderResult:
    console_errors: list[str]
    dom_text: str
    # Every URL the page requested (the document itself included), to prove nothing external loads.
    requested_urls: list[str] = field(default_factory=list)
    # The value of the `evaluate` expression, computed after the page loaded (JSON-compatible).
    evaluated: object = None


class ChromiumError(RuntimeError):
    pass


def chromium_available() -> bool:
    return os.access(CHROMIUM, os.X_OK)


def render(
    html_path: Path | str,
    screenshot_path: Path | str,
    width: int = 1280,
    height: int = 2000,
    dark: bool = False,
    evaluate: str | None = None,
) -> RenderResult:
    """Load `html_path`, write a `width`x`height` PNG to `screenshot_path`, return what was seen.

    `dark=True` emulates `prefers-color-scheme: dark`. `evaluate` is a JavaScript expression run
    in the loaded page (measurements: layout sizes, SVG boxes); its JSON value comes back as
    `evaluated`. The whole run is killed after 60 s.
    """
    url = Path(html_path).resolve().as_uri()
    profile = tempfile.mkdtemp(prefix="modelkin-chromium-")
    # stderr goes to a file, not a pipe nobody reads (a full pipe would stall Chromium).
    stderr_path = Path(profile) / "stderr.log"
    # Chromium insists on fds 3 and 4. Park the child's pipe ends at >= 10 (close-on-exec) so
    # that moving them to 3 and 4 in the child cannot clobber one with the other.
    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()
    child_read = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 10)
    child_write = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(to_browser_r)
    os.close(from_browser_w)

    def wire_devtools_fds() -> None:  # runs in the child between fork and exec
        os.dup2(child_read, 3)  # dup2 clears close-on-exec, so exactly 3 and 4 are inherited
        os.dup2(child_write, 4)

    command = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}", "about:blank"]
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            command,
            preexec_fn=wire_devtools_fds,
            # close_fds would run after preexec_fn and close 3 and 4 again; every other fd of
            # ours is close-on-exec already (Python's default), so nothing else leaks.
            close_fds=False,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,  # its own process group, so we can stop all its children
        )
    os.close(child_read)
    os.close(child_write)
    session = _Pipe(to_browser_w, from_browser_r, deadline=time.monotonic() + TIMEOUT_S)
    try:
        return _drive(session, url, Path(screenshot_path), width, height, dark, evaluate)
    except Exception as error:
        session.close()
        _stop(process)
        tail = stderr_path.read_text(errors="replace")[-800:]
        raise ChromiumError(f"{error}; Chromium stderr ends with: {tail}") from error
    finally:
        session.close()
        _stop(process)
        shutil.rmtree(profile, ignore_errors=True)


def _drive(
    session: _Pipe, url: str, screenshot: Path, width: int, height: int, dark: bool, evaluate: str | None
) -> RenderResult:
    target = session.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    sid = session.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        session.call(f"{domain}.enable", session_id=sid)
    session.call(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        session_id=sid,
    )
    if dark:
        session.call(
            "Emulation.setEmulatedMedia",
            {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
            session_id=sid,
        )
    session.events.clear()  # about:blank noise
    navigation = session.call("Page.navigate", {"url": url}, session_id=sid)
    if navigation.get("errorText"):
        raise ChromiumError(f"navigation to {url} failed: {navigation['errorText']}")
    session.wait_for_event("Page.loadEventFired", sid)
    dom = session.call(
        "Runtime.evaluate",
        {"expression": "document.documentElement.outerHTML", "returnByValue": True},
        session_id=sid,
    )["result"]["value"]
    evaluated = None
    if evaluate is not None:
        reply = session.call("Runtime.evaluate", {"expression": evaluate, "returnByValue": True}, session_id=sid)
        if "exceptionDetails" in reply:
            raise ChromiumError(f"evaluate failed: {reply['exceptionDetails'].get('exception', reply)}")
        evaluated = reply["result"].get("value")
    shot = session.call("Page.captureScreenshot", {"format": "png"}, session_id=sid)
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    errors, urls = _summarise(session.events, sid)
    try:
        session.call("Browser.close")
    except ChromiumError:
        pass  # the browser may close the pipe before answering
    return RenderResult(console_errors=errors, dom_text=dom, requested_urls=urls, evaluated=evaluated)


def _summarise(events: list[dict], sid: str) -> tuple[list[str], list[str]]:
    errors: list[str] = []
    urls: list[str] = []
    for event in events:
        if event.get("sessionId") != sid:
            continue
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            description = details.get("exception", {}).get("description") or details.get("text", "")
            errors.append(f"uncaught: {description.splitlines()[0] if description else details}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            text = " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", []))
            errors.append(f"console.{params['type']}: {text}")
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            errors.append(f"log: {params['entry'].get('text', '')}")
        elif method == "Network.requestWillBeSent":
            urls.append(params["request"]["url"])
    return errors, urls


class _Pipe:
    """Blocking DevTools client over two pipes, bounded by one overall deadline."""

    def __init__(self, write_fd: int, read_fd: int, deadline: float) -> None:
        self._write_fd = write_fd
        self._read_fd = read_fd
        self._deadline = deadline
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, params: dict | None = None, session_id: str | None = None) -> dict:
        self._next_id += 1
        message: dict = {"id": self._next_id, "method": method, "params": params or {}}
        if session_id:
            message["sessionId"] = session_id
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._write_fd, data) :]
        while True:
            reply = self._receive()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise ChromiumError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_for_event(self, method: str, session_id: str) -> None:
        if any(e["method"] == method and e.get("sessionId") == session_id for e in self.events):
            return
        while True:
            message = self._receive()
            if "method" in message:
                self.events.append(message)
                if message["method"] == method and message.get("sessionId") == session_id:
                    return

    def _receive(self) -> dict:
        while b"\0" not in self._buffer:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise ChromiumError(f"no answer from Chromium within {TIMEOUT_S:.0f} s")
            ready, _, _ = select.select([self._read_fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self._read_fd, 1 << 20)
            if not chunk:
                raise ChromiumError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def close(self) -> None:
        for fd in (self._write_fd, self._read_fd):
            try:
                os.close(fd)
            except OSError:
                pass


def _stop(process: subprocess.Popen) -> None:
    """Give Chromium a moment to exit after Browser.close, then kill its process group."""
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    # Renderer/zygote children share the group we created with start_new_session.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=5)
