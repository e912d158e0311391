// Live board: one tile per strap, fed by Server-Sent Events. EventSource reconnects by
// itself after a network blip or a server restart; tiles grey out locally when no update
// arrives for STALE_MS, so a dead connection never shows a frozen heart rate.
// Texts come from the page (data-i18n, the site's language); names are set with
// textContent only, never as markup.
"use strict";
const STALE_MS = 5000;
const board = document.getElementById("board");
const statusEl = document.getElementById("status");
const emptyEl = document.getElementById("empty");
const I18N = JSON.parse(document.body.dataset.i18n || "{}");
const tr = (key) => I18N[key] || key;
const tiles = new Map(); // sensor -> {el, data, seenAt, spark: [[ts, bpm], ...]}
const SPARK_MS = 120000;
const SVG_NS = "http://www.w3.org/2000/svg";
let target = null; // the class's points target (null: no class running)
// After a class, until the next one starts, its participants' tiles show the points they
// earned in it, no longer counting: "sensor|athlete" -> points, for class `frozenFor`.
let frozen = new Map(), frozenFor = null;
const wearer = (d) => `${d.sensor}|${d.athlete_id}`;

function setStatus(state, text) {
  statusEl.dataset.state = state;
  statusEl.textContent = text;
}

// Tiles fill the board: every row takes its share of the height (no empty band), and the
// text scales with the smaller of the tile's width and height.
function layout() {
  const n = Math.max(tiles.size, 1);
  const w = board.clientWidth - 16, h = board.clientHeight - 16, gap = 8;
  let best = { cols: 1, rows: 1, size: 0, th: h };
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const tw = (w - gap * (cols - 1)) / cols;
    const th = (h - gap * (rows - 1)) / rows;
    const size = Math.min(tw / 1.4, th); // text scale: tiles read best at ~1.4:1
    if (size > best.size) best = { cols, rows, size, th };
  }
  board.style.gridTemplateColumns = `repeat(${best.cols}, minmax(0, 1fr))`;
  board.style.gridTemplateRows = `repeat(${best.rows}, ${Math.floor(best.th)}px)`;
  board.style.setProperty("--tile-s", `${Math.floor(best.size)}px`);
  emptyEl.hidden = tiles.size > 0;
  tiles.forEach(fitAll);
}

// A long name (or a long zone line) shrinks until it fits its tile instead of being cut.
function fit(el) {
  el.style.fontSize = "";
  let size = parseFloat(getComputedStyle(el).fontSize);
  while (el.scrollWidth > el.clientWidth + 1 && size > 9) {
    size -= 1;
    el.style.fontSize = `${size}px`;
  }
}
function fitAll(entry) { entry.el.querySelectorAll(".name, .meta, .totals").forEach(fit); }

function drawSpark(entry) {
  const line = entry.el.querySelector("polyline");
  const pts = entry.spark;
  if (pts.length < 2) { line.setAttribute("points", ""); return; }
  const end = pts[pts.length - 1][0];
  let lo = Infinity, hi = -Infinity;
  pts.forEach(([, b]) => { lo = Math.min(lo, b); hi = Math.max(hi, b); });
  const span = Math.max(hi - lo, 10);
  line.setAttribute("points", pts.map(([t, b]) =>
    `${(100 - (end - t) / SPARK_MS * 100).toFixed(1)},${(28 - (b - lo) / span * 26).toFixed(1)}`
  ).join(" "));
}

function clock(seconds) {
  return `${Math.floor(seconds / 60)}:${String(Math.round(seconds % 60)).padStart(2, "0")}`;
}

// The athlete's machine next to the heart rate: watts and cadence on a bike or power meter,
// split per 500 m and strokes on a rower, pace per km on a treadmill.
function machineText(m) {
  if (!m) return "";
  const parts = [];
  if (m.kind === "rower" && m.split_s) parts.push(`${clock(m.split_s)} /500m`);
  if (m.kind === "treadmill" && m.pace_s) parts.push(`${clock(m.pace_s)} /km`);
  if (m.power_w !== undefined) parts.push(`${m.power_w} W`);
  if (m.cadence !== undefined) {
    const unit = m.kind === "rower" || m.kind === "cross-trainer" ? "spm" : "rpm";
    parts.push(`${Math.round(m.cadence)} ${unit}`);
  }
  return parts.join(" · ");
}

function render(entry) {
  const d = entry.data;
  const stale = Date.now() - entry.seenAt > STALE_MS;
  const state = stale ? "no-signal" : d.state;
  // A private board (web.board_privacy) gets zone and points only: no heart rate, no kcal.
  const live = state === "live" && (d.bpm !== null || d.private === true);
  entry.el.dataset.state = state;
  entry.el.dataset.zone = live ? d.zone : "";
  entry.el.querySelector(".name").textContent = d.name;
  const fitted = entry.fitted;
  const bpm = entry.el.querySelector(".bpm");
  bpm.textContent = live ? (d.private ? tr(`zone${d.zone}`) : `${d.bpm}`) : "--";
  if (live && !d.private) {
    const unit = document.createElement("small");
    unit.textContent = "bpm";
    bpm.appendChild(unit);
  }
  entry.el.querySelector(".pct").textContent = live && !d.private ? `${d.pct_max}%` : "";
  entry.el.querySelector(".zone").textContent = live
    ? `${tr("zone")} ${d.zone} · ${tr(`zone${d.zone}`)}`
    : state === "plain" ? "" // no consent to live heart rate: her name only
    : tr(state === "no-contact" ? "no_contact" : "no_signal");
  const points = Math.floor(frozen.has(wearer(d)) ? frozen.get(wearer(d)) : d.points || 0);
  entry.el.querySelector(".pts").textContent = `${points} ${tr("pts")}`;
  entry.el.querySelector(".kcal").textContent = d.kcal == null ? "" : `${Math.round(d.kcal)} kcal`;
  const machine = entry.el.querySelector(".machine");
  machine.textContent = stale ? "" : machineText(d.machine);
  machine.hidden = !machine.textContent;
  entry.el.classList.toggle("has-machine", !machine.hidden);
  // Refit when what is written changes length (not on every new number).
  const shape = [d.name, entry.el.querySelector(".meta").textContent.length,
    entry.el.querySelector(".totals").textContent.length].join("|");
  if (fitted !== shape) { entry.fitted = shape; fitAll(entry); }
  const goal = entry.el.querySelector(".goal");
  goal.hidden = target === null;
  if (target !== null) {
    const done = Math.min(1, points / target);
    goal.querySelector("i").style.width = `${(done * 100).toFixed(1)}%`;
    goal.dataset.reached = done >= 1 ? "yes" : "no";
  }
}

function upsert(d) {
  let entry = tiles.get(d.sensor);
  if (!entry) {
    const el = document.createElement("section");
    el.className = "tile";
    el.dataset.sensor = d.sensor;
    el.innerHTML = '<div class="name"></div><div class="bpm"></div>' +
      '<div class="meta"><span class="zone"></span><span class="pct"></span></div>' +
      '<div class="meta machine" hidden></div>' +
      '<div class="totals"><span class="pts"></span><span class="kcal"></span></div>' +
      '<div class="goal" hidden><i></i></div>';
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 100 30");
    svg.setAttribute("preserveAspectRatio", "none");
    svg.classList.add("spark");
    svg.appendChild(document.createElementNS(SVG_NS, "polyline"));
    el.appendChild(svg);
    entry = { el, data: d, seenAt: Date.now(), spark: [] };
    tiles.set(d.sensor, entry);
    const sorted = [...tiles.values()].sort((a, b) =>
      a.data.name.localeCompare(b.data.name, undefined, { numeric: true }));
    sorted.forEach((t) => board.appendChild(t.el));
    layout();
  }
  entry.data = d;
  entry.seenAt = d.state === "no-signal" ? 0 : Date.now();
  if (d.spark) entry.spark = d.spark.slice();
  else if (d.state === "live" && d.bpm !== null) entry.spark.push([d.ts, d.bpm]);
  while (entry.spark.length && entry.spark[0][0] < d.ts - SPARK_MS) entry.spark.shift();
  render(entry);
  drawSpark(entry);
  if (window.gympulseOnTile) window.gympulseOnTile(d);
}

// EventSource retries by itself after a dropped connection; when the browser gives up
// (readyState CLOSED, e.g. an HTTP error while the server restarts) we start a new one.
function connect() {
  const source = new EventSource("/api/live/stream");
  source.addEventListener("open", () => setStatus("open", tr("live")));
  source.addEventListener("error", () => {
    setStatus("error", tr("reconnecting"));
    if (source.readyState === EventSource.CLOSED) setTimeout(connect, 2000);
  });
  source.addEventListener("tile", (ev) => upsert(JSON.parse(ev.data)));
  // An unknown strap the server stopped showing (capped, or silent for 10 minutes).
  source.addEventListener("gone", (ev) => {
    const entry = tiles.get(JSON.parse(ev.data).sensor);
    if (!entry) return;
    entry.el.remove();
    tiles.delete(entry.data.sensor);
    layout();
  });
}

// Class timer and, once a class has ended, its summary screen — shown once per class,
// until it is clicked away or the next class starts (then it gives way by itself).
// (A board opened long after a class ended does not open with that class's summary.)
const SUMMARY_AUTO_MS = 15 * 60 * 1000;
let currentClass = null, nextClass = null, lastEnded = null, clockSkew = 0;
async function refreshClass() {
  try {
    const r = await fetch("/api/live/class");
    const j = await r.json();
    clockSkew = j.now_ms - Date.now();
    currentClass = j.class;
    nextClass = j.next;
    lastEnded = j.ended;
    tick();
  } catch (e) { /* offline: keep the last known class */ }
}

function mmss(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// HRR60 comes from `gympulse analyze` (a minute or more after the class): while the
// summary is open it is fetched again every 30 s, so the value appears when it exists.
let summaryClassId = null, summaryShownFor = undefined, summaryTimer = null;
async function showSummary(classId) {
  summaryShownFor = classId;
  summaryClassId = classId;
  const query = classId === null ? "" : `?class_id=${classId}`;
  let rows;
  try { rows = await (await fetch(`/api/live/summary${query}`)).json(); } catch (e) { return; }
  if (summaryClassId !== classId) return;  // a newer summary (or class) took its place
  const box = document.getElementById("summary");
  box.querySelector("tbody").innerHTML = "";
  rows.forEach((r) => {
    const tr = document.createElement("tr");
    const health = document.body.dataset.privacy !== "full" ? [] :
      [r.kcal === null ? "–" : Math.round(r.kcal), r.peak_bpm ?? "–",
       r.hrr60 === undefined || r.hrr60 === null ? "–" : Math.round(r.hrr60)];
    [r.name, ...r.zone_minutes.slice(1).map((m) => m.toFixed(0)), Math.floor(r.points), ...health]
      .forEach((v) => { const td = document.createElement("td"); td.textContent = v; tr.appendChild(td); });
    box.querySelector("tbody").appendChild(tr);
  });
  box.dataset.classId = classId === null ? "" : String(classId);
  box.hidden = false;
  if (summaryTimer === null) {
    summaryTimer = setInterval(() => { if (!box.hidden) showSummary(summaryClassId); }, 30000);
  }
}

function hideSummary() {
  summaryClassId = null;
  document.getElementById("summary").hidden = true;
}

function tick() {
  const now = Date.now() + clockSkew;
  document.getElementById("clock").textContent =
    new Date().toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit" });
  const timer = document.getElementById("timer");
  if (nextClass && now >= nextClass.start_ms && (!currentClass || currentClass.id === nextClass.id
      || now >= currentClass.end_ms)) {
    // The next class starts now: it becomes the current one without waiting for a refresh.
    if (currentClass && currentClass.id !== nextClass.id) lastEnded = currentClass;
    currentClass = nextClass;
    nextClass = null;
    refreshClass();
  }
  const running = currentClass && currentClass.start_ms <= now && now < currentClass.end_ms;
  // The class that ended last: the current one once its end has passed (before the next
  // refresh of /api/live/class says so), else what the server last said.
  const ended = currentClass && now >= currentClass.end_ms ? currentClass : lastEnded;
  target = running && currentClass.target_points ? currentClass.target_points : null;
  document.getElementById("target").textContent =
    target === null ? "" : `${tr("target")}: ${target} ${tr("pts")}`;
  freezePoints(running ? null : ended);
  if (!currentClass) timer.textContent = "";
  else if (now < currentClass.start_ms) timer.textContent = `${currentClass.name} ${tr("starts_in")} ${mmss(currentClass.start_ms - now)}`;
  else if (running) timer.textContent = `${currentClass.name} ${mmss(now - currentClass.start_ms)} / ${mmss(currentClass.end_ms - currentClass.start_ms)}`;
  else timer.textContent = `${currentClass.name} ✓`;
  if (running && summaryClassId !== null && currentClass.id !== summaryClassId) hideSummary();
  else if (!running && ended && ended.id !== summaryShownFor && now - ended.end_ms < SUMMARY_AUTO_MS) showSummary(ended.id);
}

// The points of a class that ended stop counting on its tiles. Seen ending here: each
// tile's points at that moment; on a board opened later: the class summary's.
function freezePoints(ended) {
  const id = ended ? ended.id : null;
  if (id === frozenFor) return;
  frozenFor = id;
  frozen = new Map();
  if (id === null) return;
  if (Date.now() + clockSkew - ended.end_ms < 5000) {
    tiles.forEach((entry) => frozen.set(wearer(entry.data), entry.data.points || 0));
    return;
  }
  fetch(`/api/live/summary?class_id=${id}`).then((r) => r.json()).then((rows) => {
    if (frozenFor !== id) return;
    rows.forEach((r) => frozen.set(wearer(r), r.points));
    tiles.forEach(render);
  }).catch(() => { /* offline: the tiles keep their own totals */ });
}

setInterval(() => { tick(); tiles.forEach(render); }, 1000);
setInterval(refreshClass, 30000);
refreshClass();
if (new URLSearchParams(location.search).has("summary")) showSummary(null);
document.getElementById("summary").addEventListener("click", hideSummary);
window.addEventListener("resize", layout);
layout();
connect();
