// Strength log: the − / + buttons next to reps and kg (the form works without them).
document.querySelectorAll("button.step").forEach((b) => {
  b.addEventListener("click", () => {
    const input = document.getElementById(b.dataset.for);
    const next = (parseFloat(input.value) || 0) + parseFloat(b.dataset.by);
    input.value = String(Math.max(Number(input.min), Math.round(next * 2) / 2));
  });
});
