// The guest's morning reading: choose a strap (or connect one's own over Web Bluetooth),
// a calm countdown with the live heart rate, then the server computes the reading at once.
"use strict";
(function () {
  const root = document.getElementById("morning");
  if (!root) return;
  const api = root.dataset.api;
  const csrf = root.dataset.csrf;
  const duration = Number(root.dataset.duration) || 180;
  const $ = (sel) => root.querySelector(sel);
  const steps = { pick: $(".step.pick"), running: $(".step.running"), done: $(".step.done") };
  const strapsBox = $(".straps");
  const startButton = $(".start");
  let chosen = null; // a sensor id, or "ble"
  let info = null;
  let pending = null;
  let ticking = null;
  let liveTimer = null;
  const ble = { device: null, sensor: null, queue: [], lastTs: 0, bpm: null, connected: false };

  function show(name) {
    for (const [key, el] of Object.entries(steps)) el.hidden = key !== name;
    root.dataset.step = name;
  }

  async function call(method, path, body) {
    const init = { method, headers: { "X-CSRF-Token": csrf } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = typeof body === "string" ? body : JSON.stringify(body);
    }
    const response = await fetch(api + path, init);
    if (!response.ok) throw new Error(`${response.status}`);
    return response.json();
  }

  function option(value, label) {
    const wrap = document.createElement("label");
    wrap.className = "tap strap";
    const input = document.createElement("input");
    input.type = "radio";
    input.name = "strap";
    input.value = value;
    input.checked = chosen === value;
    input.addEventListener("change", () => { chosen = value; startButton.disabled = false; });
    wrap.append(input, document.createTextNode(" " + label));
    return wrap;
  }

  function renderStraps() {
    strapsBox.textContent = "";
    const values = [];
    if (ble.connected) {
      strapsBox.append(option("ble", root.dataset.tConnected.replace("{name}", ble.device.name || "")));
      values.push("ble");
    }
    if (info && info.assigned) {
      strapsBox.append(option(info.assigned.sensor,
        root.dataset.tYours.replace("{label}", info.assigned.label)));
      values.push(info.assigned.sensor);
    }
    for (const s of (info ? info.straps : [])) {
      if (values.includes(s.sensor)) continue;
      strapsBox.append(option(s.sensor, s.label));
      values.push(s.sensor);
    }
    if (!values.length) {
      const p = document.createElement("p");
      p.className = "hint";
      p.textContent = root.dataset.tNoStraps;
      strapsBox.append(p);
    }
    if (!values.includes(chosen)) chosen = values.length === 1 ? values[0] : null;
    for (const input of strapsBox.querySelectorAll("input")) input.checked = input.value === chosen;
    startButton.disabled = chosen === null;
  }

  async function refresh() {
    if (root.dataset.step !== "pick") return;
    try {
      info = await (await fetch(api + "/morning")).json();
      ble.sensor = info.web_sensor;
    } catch (err) { return; }
    renderStraps();
  }

  function mmss(seconds) {
    const s = Math.max(0, Math.ceil(seconds));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }

  async function pollLive() {
    if (!pending) return;
    if (pending.sensor === ble.sensor && ble.connected) {
      $(".live .bpm").textContent = ble.bpm ?? "--";
      return;
    }
    try {
      const tiles = await (await fetch(api + "/live")).json();
      const tile = tiles.find((x) => x.sensor === pending.sensor);
      $(".live .bpm").textContent = tile && tile.bpm !== null ? tile.bpm : "--";
    } catch (err) { /* the next poll */ }
  }

  async function start() {
    startButton.disabled = true;
    try {
      pending = await call("POST", "/morning/start",
        chosen === "ble" ? { bluetooth: true } : { sensor: chosen });
    } catch (err) {
      startButton.disabled = false;
      return;
    }
    pending.endsAt = performance.now() + pending.duration_s * 1000;
    root.dataset.started = String(Date.now());
    show("running");
    $(".countdown").textContent = mmss(pending.duration_s);
    ticking = setInterval(tick, 250);
    liveTimer = setInterval(pollLive, 1000);
    pollLive();
  }

  function stopTimers() {
    clearInterval(ticking);
    clearInterval(liveTimer);
    ticking = liveTimer = null;
  }

  function tick() {
    const left = (pending.endsAt - performance.now()) / 1000;
    $(".countdown").textContent = mmss(left);
    if (left <= 0) finish();
  }

  async function finish() {
    stopTimers();
    const running = pending;
    pending = null;
    $(".countdown").textContent = root.dataset.tSaving;
    if (running.sensor === ble.sensor) await flush();
    let result;
    try {
      result = await call("POST", `/morning/${running.id}/finish`);
    } catch (err) {
      result = { ok: false, reason: "error", message: root.dataset.tError };
    }
    root.dataset.result = result.ok ? "ok" : result.reason;
    const values = $(".values");
    values.textContent = result.ok ? result.values : "";
    if (result.ok) {
      values.dataset.lnRmssd = String(result.ln_rmssd);
      values.dataset.hrRest = String(result.hr_rest);
      values.dataset.corrected = String(result.n_corrected);
    }
    $(".message").textContent = result.message;
    if (result.words) {
      const words = $(".status-words");
      words.textContent = result.words;
      words.className = `status-words level-${result.level}`;
      words.dataset.level = result.level;
    }
    root.dataset.finished = String(Date.now());
    show("done");
  }

  async function cancel() {
    stopTimers();
    const running = pending;
    pending = null;
    if (running) {
      try { await call("POST", `/morning/${running.id}/cancel`); } catch (err) { /* gone */ }
    }
    show("done");
    $(".message").textContent = root.dataset.tCancelled;
    $(".values").textContent = "";
    root.dataset.result = "cancelled";
  }

  // ------------------------------------------------------------ Web Bluetooth (own strap)

  function onValue(event) {
    let m;
    try { m = window.GympulseHrm.decode(event.target.value); } catch (err) { return; }
    const ts = Math.max(ble.lastTs + 1, Date.now());
    ble.lastTs = ts;
    ble.bpm = m.contact === false ? null : m.bpm;
    ble.queue.push({ sensor: ble.sensor, ts, seq: ts, bpm: m.bpm, rr_ms: m.rrMs,
                     contact: m.contact, energy_kj: m.energyKj });
  }

  let flushing = null;
  async function flushOnce() {
    if (!ble.queue.length) return;
    const batch = ble.queue.splice(0, 200);
    try {
      await call("POST", "/samples", JSON.stringify(batch));
    } catch (err) {
      ble.queue.unshift(...batch); // kept for the next try; the store ignores repeats
      throw err;
    }
  }
  async function flush() {
    if (flushing) await flushing.catch(() => {});
    flushing = (async () => { while (ble.queue.length) await flushOnce(); })();
    try { await flushing; } catch (err) { /* retried by the timer */ } finally { flushing = null; }
  }

  async function connect() {
    const state = $(".ble-state");
    try {
      if (!ble.sensor) await refresh();
      const device = await navigator.bluetooth.requestDevice({ filters: [{ services: ["heart_rate"] }] });
      const server = await device.gatt.connect();
      const service = await server.getPrimaryService("heart_rate");
      const characteristic = await service.getCharacteristic("heart_rate_measurement");
      characteristic.addEventListener("characteristicvaluechanged", onValue);
      await characteristic.startNotifications();
      ble.device = device;
      ble.connected = true;
      device.addEventListener("gattserverdisconnected", () => { ble.connected = false; renderStraps(); });
      chosen = "ble";
      state.textContent = root.dataset.tConnected.replace("{name}", device.name || "");
      root.dataset.ble = "connected";
      renderStraps();
    } catch (err) {
      state.textContent = root.dataset.tBleFailed;
      root.dataset.ble = "failed";
    }
  }

  if (navigator.bluetooth && typeof navigator.bluetooth.requestDevice === "function") {
    const button = $(".ble-connect");
    button.hidden = false;
    button.addEventListener("click", connect);
    setInterval(() => { if (ble.queue.length) flush(); }, 2000);
  } else {
    $(".ble-missing").hidden = false;
    root.dataset.ble = "missing";
  }

  startButton.addEventListener("click", start);
  $(".cancel").addEventListener("click", cancel);
  $(".again").addEventListener("click", () => { show("pick"); refresh(); });
  show("pick");
  refresh();
  setInterval(refresh, 3000);
})();
