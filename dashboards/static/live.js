// Live board: one tile per strap, fed by Server-Sent Events. EventSource reconnects by
// itself after a network blip or a server restart; tiles grey out locally when no update
// arrives for STALE_MS, so a dead connection never shows a frozen heart rate.
"use strict";
const STALE_MS = 5000;
const board = document.getElementById("board");
const statusEl = document.getElementById("status");
const emptyEl = document.getElementById("empty");
const tiles = new Map(); // sensor -> {el, data, seenAt}

function setStatus(state, text) {
  statusEl.dataset.state = state;
  statusEl.textContent = text;
}

function layout() {
  const n = Math.max(tiles.size, 1);
  const w = board.clientWidth - 16, h = board.clientHeight - 16, gap = 8;
  let best = { cols: 1, size: 0 };
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const tw = (w - gap * (cols - 1)) / cols;
    const th = (h - gap * (rows - 1)) / rows;
    const size = Math.min(tw / 1.4, th); // tiles ~1.4:1
    if (size > best.size) best = { cols, size };
  }
  board.style.gridTemplateColumns = `repeat(${best.cols}, 1fr)`;
  board.style.setProperty("--tile-h", `${Math.floor(best.size)}px`);
  emptyEl.hidden = tiles.size > 0;
}

function render(entry) {
  const d = entry.data;
  const stale = Date.now() - entry.seenAt > STALE_MS;
  const state = stale ? "no-signal" : d.state;
  const live = state === "live" && d.bpm !== null;
  entry.el.dataset.state = state;
  entry.el.dataset.zone = live ? d.zone : 0;
  entry.el.querySelector(".name").textContent = d.name;
  entry.el.querySelector(".bpm").innerHTML = live ? `${d.bpm}<small>bpm</small>` : "--";
  entry.el.querySelector(".pct").textContent = live ? `${d.pct_max}% max` : "";
  entry.el.querySelector(".zone").textContent =
    live ? `zone ${d.zone}` : state === "no-contact" ? "no contact" : "no signal";
}

function upsert(d) {
  let entry = tiles.get(d.sensor);
  if (!entry) {
    const el = document.createElement("section");
    el.className = "tile";
    el.dataset.sensor = d.sensor;
    el.innerHTML = '<div class="name"></div><div class="bpm"></div>' +
      '<div class="meta"><span class="pct"></span><span class="zone"></span></div>';
    entry = { el, data: d, seenAt: Date.now() };
    tiles.set(d.sensor, entry);
    const sorted = [...tiles.values()].sort((a, b) => a.data.name.localeCompare(b.data.name));
    sorted.forEach((t) => board.appendChild(t.el));
    layout();
  }
  entry.data = d;
  entry.seenAt = d.state === "no-signal" ? 0 : Date.now();
  render(entry);
  if (window.gympulseOnTile) window.gympulseOnTile(d);
}

function connect() {
  const source = new EventSource("/api/live/stream");
  source.addEventListener("open", () => setStatus("open", "live"));
  source.addEventListener("error", () => setStatus("error", "reconnecting…"));
  source.addEventListener("tile", (ev) => upsert(JSON.parse(ev.data)));
}

setInterval(() => {
  tiles.forEach(render);
  document.getElementById("clock").textContent = new Date().toLocaleTimeString();
}, 1000);
window.addEventListener("resize", layout);
layout();
connect();
