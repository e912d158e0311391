// A guest's own live tile: follows /api/me/<token>/stream (only this guest's strap).
"use strict";
(function () {
  const section = document.getElementById("me-live");
  if (!section) return;
  const tile = section.querySelector(".me-tile");
  const bpm = tile.querySelector(".bpm");
  const zone = tile.querySelector(".zone");
  const noSignal = zone.textContent;
  let seenAt = 0;
  // The block is shown only while the guest's own strap is live.
  function show(d) {
    const live = d.state === "live" && d.bpm !== null && Date.now() - seenAt < 5000;
    section.hidden = !live;
    tile.dataset.state = live ? "live" : "no-signal";
    tile.dataset.zone = live ? d.zone : 0;
    bpm.textContent = live ? d.bpm : "--";
    zone.textContent = live ? `zone ${d.zone} · ${Math.floor(d.points || 0)}` : noSignal;
  }
  let last = null;
  const source = new EventSource(section.dataset.stream);
  source.addEventListener("tile", (ev) => { last = JSON.parse(ev.data); seenAt = Date.now(); show(last); });
  setInterval(() => { if (last) show(last); }, 1000);
})();
