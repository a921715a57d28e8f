"""A web page of another origin, in headless Chromium, against the mock (issue 16).

    python benchmarks/check_browser.py

Starts the mock and a page server on loopback ports; Chromium (Debian's `chromium`,
installed with apt-get when missing and possible) opens the page as
``http://evil.example:<port>/`` (mapped to 127.0.0.1 with ``--host-resolver-rules``).
The page tries to read the journal, reset the mock with a "simple" POST, queue a
response, read the bridge feed, and call a mocked path; then Chromium opens the admin
API as ``http://attacker.example:<mock port>/`` (DNS rebinding). Prints what happened
and exits 1 if the page could read or change the admin API or an API key showed.
Not a test: CI has no browser; run it by hand after changing guard.py.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys

from aiohttp import web

from mock_nrfcloud.client import MockClient
from mock_nrfcloud.server import start_mock

PAGE = """<!doctype html><body><pre id=out>pending</pre><script>
const M = "%s";
const out = [];
async function step(name, f) {
  try { out.push(name + ": " + await f()); } catch (e) { out.push(name + ": blocked"); }
}
(async () => {
  await step("read journal", async () => (await fetch(M + "/__admin/requests")).status);
  await step("reset", async () => (await fetch(M + "/__admin/reset", {method: "POST",
    mode: "no-cors", body: "{}", headers: {"Content-Type": "text/plain"}})).type);
  await step("queue", async () => (await fetch(M + "/__admin/responses", {method: "POST",
    body: JSON.stringify({method: "GET", path: "/v1/x"}),
    headers: {"Content-Type": "application/json"}})).status);
  await step("bridge", async () => (await fetch(M + "/__bridge/messages?since=0",
    {headers: {Authorization: "Bearer k"}})).status);
  await step("mocked", async () => (await fetch(M + "/v1/devices",
    {headers: {Authorization: "Bearer k"}})).status);
  document.getElementById("out").textContent = out.join("\\n");
})();
</script>"""
EXPECTED = {"read journal": "blocked", "reset": "opaque", "queue": "blocked",
            "bridge": "blocked", "mocked": "200"}  # fmt: skip


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "chromium"],
            check=False,
            capture_output=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        found = shutil.which("chromium")
    if not found:
        sys.exit("chromium is missing: install it (Debian: apt-get install chromium)")
    return found


def dump_dom(binary: str, url: str) -> str:
    rules = "MAP evil.example 127.0.0.1, MAP attacker.example 127.0.0.1"
    argv = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        f"--host-resolver-rules={rules}",
        "--virtual-time-budget=8000",
        "--dump-dom",
        url,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120).stdout


async def main() -> int:
    binary = chromium()
    mock = await start_mock("127.0.0.1", 0)
    page = web.Application()
    page.router.add_get("/", lambda _: web.Response(text=PAGE % mock.url, content_type="text/html"))
    runner = web.AppRunner(page)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        async with MockClient(mock.url) as admin:
            await admin.queue("k", "GET", "/v1/devices", body={"items": []}, keep=True)
            await admin.queue("default", "GET", "/v1/keep-me", keep=True)
            dom = await asyncio.to_thread(dump_dom, binary, f"http://evil.example:{port}/")
            text = dom[dom.find("<pre") : dom.find("</pre>")].split(">", 1)[-1]
            seen = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
            rebound = mock.url.replace("127.0.0.1", "attacker.example")
            rebound += "/__admin/requests?account=k"
            rebinding = await asyncio.to_thread(dump_dom, binary, rebound)
            kept = [r["path"] for r in await admin.responses("default")]
            journal = await admin.requests("k")
    finally:
        await runner.cleanup()
        await mock.stop()
    failures = [
        f"{name}: expected {want}, got {seen.get(name)}"
        for name, want in EXPECTED.items()
        if seen.get(name) != want
    ]
    if "forbidden-host" not in rebinding:
        failures.append(f"DNS rebinding was answered: {rebinding[:200]}")
    if kept != ["/v1/keep-me"]:
        failures.append(f"the page changed the queue: {kept}")
    if any("Bearer k" in str(e["headers"]) for e in journal):
        failures.append("an API key showed in the journal")
    for name, got in seen.items():
        print(f"page on evil.example: {name}: {got}")
    print("DNS rebinding:", "refused (403 forbidden-host)" if "forbidden-host" in rebinding
          else "ANSWERED")  # fmt: skip
    for failure in failures:
        print("FAIL", failure)
    print("ok" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
