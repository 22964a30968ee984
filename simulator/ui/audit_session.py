"""The chart session of a browser tab: recorded when the chart opens, and again (with how long it was open)
when the tab leaves the chart, closes, or goes idle. The workstation is named once per browser."""

from __future__ import annotations

import hashlib

from nicegui import app, ui

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
    """Open a chart session now; close it when this tab disconnects or idles, open a new one when it returns."""
    workstation = current_workstation()
    state: dict[str, trail.ChartSession | None] = {
        "open": trail.open_chart(store, user=user, attempt_id=attempt_id, workstation=workstation)}

    def close() -> None:
        session = state["open"]
        if session is not None:
            state["open"] = None
            trail.close_chart(store, user=user, session=session, workstation=workstation)

    def reopen() -> None:
        if state["open"] is None:
            state["open"] = trail.open_chart(store, user=user, attempt_id=attempt_id, workstation=workstation)

    client = ui.context.client
    client.on_disconnect(close)
    client.on_connect(reopen)
    client.on_delete(close)
    ui.on("hitsim-idle", close)
    ui.on("hitsim-active", reopen)
    ui.add_body_html(f"<script>{_IDLE_SCRIPT % IDLE_MINUTES}</script>")
    return workstation
