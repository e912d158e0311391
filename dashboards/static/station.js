// The coach's morning station: one row per strap that is sending, each with its own
// countdown; one tap starts a guest's reading, the server computes it when the time is up.
"use strict";
(function () {
  const root = document.getElementById("station");
  if (!root) return;
  const csrf = root.dataset.csrf;
  const tbody = root.querySelector("table.station tbody");
  const options = document.getElementById("station-athletes").innerHTML;
  const rows = new Map(); // sensor -> {tr, running}

  async function call(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {}),
    });
    if (!response.ok) throw new Error(`${response.status}`);
    return response.json();
  }

  function mmss(seconds) {
    const s = Math.max(0, Math.ceil(seconds));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }

  function makeRow(strap) {
    const tr = document.createElement("tr");
    tr.dataset.sensor = strap.sensor;
    tr.dataset.state = "idle";
    tr.innerHTML = "<td class=label></td><td><select class=who></select></td>"
      + "<td class=bpm>--</td><td class=action><button type=button class=start></button>"
      + "</td><td class=result></td>";
    tr.querySelector(".label").textContent = strap.label;
    const select = tr.querySelector("select");
    select.innerHTML = `<option value="">${root.dataset.tNobody}</option>` + options;
    if (strap.athlete_id !== null) select.value = String(strap.athlete_id);
    const button = tr.querySelector("button.start");
    button.textContent = root.dataset.tStart;
    button.addEventListener("click", () => start(strap.sensor));
    tbody.append(tr);
    const row = { tr, running: null };
    rows.set(strap.sensor, row);
    return row;
  }

  // Rows never move under the coach's finger: a strap that stops sending keeps its row,
  // marked, with Start disabled, until it sends again; a new strap's row goes at the end.
  async function refresh() {
    let straps;
    try { straps = await (await fetch("/api/coach/morning/straps")).json(); } catch (err) { return; }
    const seen = new Set();
    for (const strap of straps) {
      seen.add(strap.sensor);
      const row = rows.get(strap.sensor) || makeRow(strap);
      row.tr.querySelector(".bpm").textContent = strap.bpm ?? "--";
      row.tr.dataset.live = strap.state;
    }
    for (const [sensor, row] of rows) {
      if (seen.has(sensor)) continue;
      row.tr.dataset.live = "gone";
      row.tr.querySelector(".bpm").textContent = root.dataset.tGone;
    }
    for (const row of rows.values()) {
      const button = row.tr.querySelector("button.start");
      if (button) button.disabled = row.tr.dataset.live === "gone";
    }
    root.dataset.straps = String(rows.size);
  }

  async function start(sensor) {
    const row = rows.get(sensor);
    const who = row.tr.querySelector("select").value;
    const result = row.tr.querySelector(".result");
    if (!who) { result.textContent = root.dataset.tPick; return; }
    row.tr.dataset.state = "starting";
    try {
      const p = await call("/api/coach/morning/start", { sensor, athlete_id: Number(who) });
      row.running = { id: p.id, endsAt: performance.now() + p.duration_s * 1000 };
    } catch (err) {
      row.tr.dataset.state = "idle";
      result.textContent = root.dataset.tError;
      return;
    }
    row.tr.dataset.state = "running";
    result.textContent = "";
    const action = row.tr.querySelector(".action");
    action.innerHTML = "<span class=countdown></span> <button type=button class='cancel secondary'></button>";
    action.querySelector(".cancel").textContent = root.dataset.tCancel;
    action.querySelector(".cancel").addEventListener("click", () => cancel(sensor));
    tick();
  }

  function resetAction(row) {
    const action = row.tr.querySelector(".action");
    action.innerHTML = "<button type=button class=start></button>";
    const button = action.querySelector("button");
    button.textContent = root.dataset.tStart;
    button.addEventListener("click", () => start(row.tr.dataset.sensor));
  }

  async function finish(row) {
    const running = row.running;
    row.running = null;
    row.tr.dataset.state = "saving";
    row.tr.querySelector(".action").textContent = root.dataset.tSaving;
    let r;
    try { r = await call(`/api/coach/morning/${running.id}/finish`); }
    catch (err) { r = { ok: false, reason: "error", message: root.dataset.tError }; }
    const result = row.tr.querySelector(".result");
    if (r.ok) {
      result.textContent = `ln RMSSD ${r.ln_rmssd.toFixed(2)} · ${Math.round(r.hr_rest)} bpm · `
        + `${r.n_corrected}/${r.n_rr}`;
      row.tr.dataset.lnRmssd = String(r.ln_rmssd);
      row.tr.dataset.state = "done";
    } else {
      result.textContent = r.message;
      row.tr.dataset.state = "refused";
      row.tr.dataset.reason = r.reason;
    }
    resetAction(row);
  }

  async function cancel(sensor) {
    const row = rows.get(sensor);
    const running = row.running;
    row.running = null;
    row.tr.dataset.state = "idle";
    resetAction(row);
    try { await call(`/api/coach/morning/${running.id}/cancel`); } catch (err) { /* gone */ }
  }

  function tick() {
    const now = performance.now();
    for (const row of rows.values()) {
      if (!row.running) continue;
      const left = (row.running.endsAt - now) / 1000;
      const label = row.tr.querySelector(".countdown");
      if (label) label.textContent = mmss(left);
      if (left <= 0) finish(row);
    }
  }

  setInterval(tick, 250);
  setInterval(refresh, 2000);
  refresh();
})();
