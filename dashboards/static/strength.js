// Strength log: the − / + buttons next to reps and kg (the form works without them).
document.querySelectorAll("button.step").forEach((b) => {
  b.addEventListener("click", () => {
    const input = document.getElementById(b.dataset.for);
    const next = (parseFloat(input.value) || 0) + parseFloat(b.dataset.by);
    input.value = String(Math.max(Number(input.min), Math.round(next * 2) / 2));
  });
});

// The rest timer after the last set. Its start is the set's time on the server, so the
// count is recomputed from the clock, never counted by ticks: a reload, or a phone woken
// from a locked screen (timers stop while it is locked), shows the right time at once.
// "+30 s" and "skip" keep the absolute end (server clock, ms) in localStorage per set.
const rest = document.querySelector("section.rest");
if (rest) {
  const key = "gympulse-rest-" + rest.dataset.set;
  // the server's clock minus this phone's, taken when the page loaded
  const offset = Number(rest.dataset.serverNow) - Date.now();
  const now = () => Date.now() + offset;
  let saved = null;
  try {
    saved = JSON.parse(localStorage.getItem(key) || "null");
  } catch (e) {
    saved = null;
  }
  let end = saved && typeof saved.end === "number"
    ? saved.end
    : Number(rest.dataset.startMs) + 1000 * Number(rest.dataset.seconds);
  let buzzed = Boolean(saved && saved.buzzed);
  const left = rest.querySelector(".rest-left");
  const keep = () => {
    try {
      localStorage.setItem(key, JSON.stringify({ end: end, buzzed: buzzed }));
    } catch (e) {
      // private mode: the server's start still counts
    }
  };
  const show = () => {
    const seconds = Math.ceil((end - now()) / 1000);
    if (seconds > 0) {
      rest.classList.remove("over");
      const m = Math.floor(seconds / 60);
      const s = String(seconds % 60).padStart(2, "0");
      left.textContent = m + ":" + s;
      return;
    }
    rest.classList.add("over");
    left.textContent = rest.dataset.over;
    if (!buzzed) {
      buzzed = true;
      keep();
      if (document.visibilityState === "visible" && navigator.vibrate) {
        navigator.vibrate([200, 100, 200]);
      }
    }
  };
  rest.querySelector(".rest-more").addEventListener("click", () => {
    end = Math.max(end, now()) + 30000;
    buzzed = false;
    keep();
    show();
  });
  rest.querySelector(".rest-skip").addEventListener("click", () => {
    end = now();
    buzzed = true;
    keep();
    show();
  });
  document.addEventListener("visibilitychange", show);
  window.addEventListener("pageshow", show);
  window.addEventListener("focus", show);
  setInterval(show, 500);
  show();
}
