"""The chart session of a browser tab: recorded when the chart opens, and again (with how long it was open)
when the tab leaves the chart, closes, or goes idle. The workstation is named once per browser."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

from nicegui import app, background_tasks, run, ui

from simulator.audit import trail
from simulator.audit.events import Workstation
from simulator.services.accounts import SignedInUser
from simulator.store import Store

IDLE_MINUTES = 10  # no key, click or scroll for this long ends the chart session; activity opens a new one

_IDLE_SCRIPT = """
(() => {
  if (window.hitsimIdle) return;
  window.hitsimIdle = {idle: false, last: Date.now()};
  const limit = %d * 60 * 1000;
  const active = () => {
    window.hitsimIdle.last = Date.now();
    if (window.hitsimIdle.idle) { window.hitsimIdle.idle = false; emitEvent('hitsim-active'); }
  };
  ['keydown', 'mousedown', 'scroll', 'touchstart', 'mousemove'].forEach(
    e => document.addEventListener(e, active, {passive: true, capture: true}));
  setInterval(() => {
    if (!window.hitsimIdle.idle && Date.now() - window.hitsimIdle.last > limit) {
      window.hitsimIdle.idle = true; emitEvent('hitsim-idle');
    }
  }, 15000);
})();
"""


def current_workstation() -> Workstation:
    """This browser's workstation: a name derived from the browser's own id, its address and user agent."""
    client = ui.context.client
    browser_id = str(app.storage.browser.get("id", "")) or client.id
    name = "WS-" + hashlib.sha256(browser_id.encode()).hexdigest()[:6].upper()
    try:
        agent = client.request.headers.get("user-agent", "")
    except RuntimeError:
        agent = ""
    return Workstation(name, client.ip, agent)


def track_chart_session(store: Store, user: SignedInUser, attempt_id: int) -> Workstation:
    """A chart session starts with the page; it is written once the browser is connected (the page is not kept
    waiting for the database) and closed when the tab disconnects or idles; returning opens a new one."""
    workstation = current_workstation()
    state: dict[str, trail.ChartSession | None] = {"open": trail.new_chart_session(attempt_id)}
    written: set[str] = set()
    lock = asyncio.Lock()

    async def write(fn: Callable[..., Any], **kwargs: Any) -> None:
        async with lock:  # in order: a session's close never overtakes its open
            await run.io_bound(fn, store, user=user, workstation=workstation, **kwargs)

    def reopen() -> None:
        session = state["open"]
        if session is None:
            session = state["open"] = trail.new_chart_session(attempt_id)
        elif session.id in written:
            return
        written.add(session.id)
        background_tasks.create(write(trail.open_chart, attempt_id=attempt_id, session=session),
                                name="audit: chart opened")

    def close(idle: bool = False) -> None:
        """The tab left or closed: the session ends now. Idle: it ended with the last activity, IDLE_MINUTES ago."""
        session = state["open"]
        if session is not None and session.id in written:
            state["open"] = None
            end = dt.datetime.now(dt.UTC) - (dt.timedelta(minutes=IDLE_MINUTES) if idle else dt.timedelta())
            background_tasks.create(write(trail.close_chart, session=session, now=end), name="audit: chart closed")

    client = ui.context.client
    client.on_connect(reopen)
    client.on_disconnect(lambda: close())
    client.on_delete(lambda: close())
    ui.on("hitsim-idle", lambda: close(idle=True))
    ui.on("hitsim-active", reopen)
    ui.add_body_html(f"<script>{_IDLE_SCRIPT % IDLE_MINUTES}</script>")
    return workstation
