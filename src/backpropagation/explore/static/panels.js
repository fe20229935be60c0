// Layer health (histograms, dead and saturated units, update ratios) and the optimizers' loss landscape.
"use strict";

import { $, card, line, number, shown, sup, svgElement, svgText } from "./util.js";

function histogram(layer, of, data, colour) {
  const width = 220, height = 80, svg = svgElement("svg", { width, height, class: "histogram",
    viewBox: `0 0 ${width} ${height}` });
  Object.assign(svg.dataset, { quantity: "histogram", of, layer, counts: JSON.stringify(data.counts),
    edges: JSON.stringify(data.edges) });
  const most = Math.max(1, ...data.counts), bar = (width - 10) / data.counts.length;
  data.counts.forEach((count, k) => svg.append(svgElement("rect", { x: 5 + k * bar, width: Math.max(1, bar - 1),
    y: height - 16 - (height - 26) * count / most, height: (height - 26) * count / most, fill: colour })));
  const low = data.edges[0], high = data.edges[data.edges.length - 1];
  svg.append(svgText(4, height - 3, shown(low)), svgText(width - 52, height - 3, shown(high)),
    svgText(4, 10, of === "gradients" ? "log₁₀|δ|" : "a"));
  return svg;
}

export function renderHealth(report) {
  const box = $("health");
  box.replaceChildren();
  for (const layer of report.layers) {
    const l = layer.layer, hidden = l < report.layers.length;
    const rows = [line("activations a", histogram(l, "activations", layer.activations, "#0969da")),
      line(`gradients δ${layer.gradients.zeros ? ` (${layer.gradients.zeros} exactly 0)` : ""}`,
        histogram(l, "gradients", layer.gradients, "#8250df")),
      line("update ratio ‖ΔW‖/‖W‖", number("update-ratio", l, 0, 0, layer.update_ratio, layer.update_ratio.toExponential(2))),
      line("spread of a across the points", number("spread", l, 0, 0, layer.spread, layer.spread.toExponential(2)))];
    if (hidden) {
      rows.push(line("dead units (f′(z) = 0 for every point)", number("dead", l, 0, 0, layer.dead.length,
        `${layer.dead.length} of ${layer.units}`)),
      line("saturated units (f′(z) < 5% of its peak on 95% of points)", number("saturated", l, 0, 0,
        layer.saturated.length, `${layer.saturated.length} of ${layer.units}`)));
    }
    box.append(card(`Layer ${l} (${layer.activation})`, ...rows));
  }
  if (report.history.length) {
    const last = report.history.slice(-8), table = document.createElement("table");
    table.className = "matrix";
    table.dataset.quantity = "health-history";
    const head = table.insertRow();
    ["epoch", ...report.layers.map((r) => `layer ${r.layer}: dead / saturated / ‖ΔW‖/‖W‖`)].forEach((text) => {
      head.insertCell().textContent = text;
    });
    for (const entry of last) {
      const tr = table.insertRow();
      tr.insertCell().textContent = entry.epoch;
      entry.layers.forEach((r) => { tr.insertCell().textContent = `${r.dead} / ${r.saturated} / ${r.update_ratio.toExponential(1)}`; });
    }
    box.append(card("Over training (the last epochs)", table));
  }
}

export function healthWarning(state, report) {
  // A word when most hidden units have been saturated or dead for several epochs of training.
  const history = report ? report.history : [];
  const recent = history.slice(-5);
  if (recent.length < 5) return "";
  const sizes = state.config.layers.slice(1, -1), units = sizes.reduce((a, b) => a + b, 0);
  const stuck = recent.every((entry) => entry.layers.slice(0, -1).reduce((n, r) => n + r.saturated + r.dead, 0) >= units / 2);
  return stuck ? `Over the last ${recent.length} epochs at least half of the hidden units were saturated or dead: they pass ` +
    "almost no gradient, so the network hardly learns. Try a smaller learning rate, another initialisation or ReLU." : "";
}

// ------------------------------------------------------------------ the landscape
const PATH_COLOURS = { sgd: "#1f2328", momentum: "#cf222e", adam: "#1a7f37" };

export function weightOptions(sizes) {
  const options = [];
  for (let l = 1; l < sizes.length; l++) {
    for (let i = 0; i < sizes[l - 1]; i++) {
      for (let j = 0; j < sizes[l]; j++) options.push([`W${sup(l)}[${i + 1},${j + 1}]`, `${l},${i},${j}`]);
    }
  }
  return options;
}

export function renderLandscape(result, onPoint) {
  const svg = $("landscape"), size = 420, n = result.loss.length;
  svg.replaceChildren();
  const flat = result.loss.flat(), low = Math.min(...flat), high = Math.max(...flat);
  const cells = document.createElement("canvas");
  cells.width = cells.height = n;
  const image = new ImageData(n, n);
  result.loss.forEach((row, r) => row.forEach((v, c) => {
    const t = Math.log1p(v - low) / Math.log1p(high - low || 1), band = Math.floor(t * 12) % 2;
    const shade = 255 - Math.round(150 * t) - 12 * band;               // bands: the contour lines
    image.data.set([shade, shade, 255, 255], 4 * ((n - 1 - r) * n + c));
  }));
  cells.getContext("2d").putImageData(image, 0, 0);
  svg.append(svgElement("image", { href: cells.toDataURL(), x: 0, y: 0, width: size, height: size, preserveAspectRatio: "none" }));
  const [xs, ys] = result.axes;
  const px = (v) => (v - xs[0]) / (xs[xs.length - 1] - xs[0]) * size;
  const py = (v) => size - (v - ys[0]) / (ys[ys.length - 1] - ys[0]) * size;
  const name = (w) => `W${sup(w[0])}[${w[1] + 1},${w[2] + 1}]`;
  svg.append(svgText(size / 2 - 30, size - 4, `${name(result.weights[0])} →`), svgText(4, 14, `↑ ${name(result.weights[1])}`),
    svgText(4, size - 4, `loss ${shown(low)} to ${shown(high)}`));
  const lines = {};
  for (const [optimizer, steps] of Object.entries(result.paths)) {
    lines[optimizer] = svgElement("polyline", { fill: "none", stroke: PATH_COLOURS[optimizer], "stroke-width": 2,
      "data-optimizer": optimizer, points: "" });
    svg.append(lines[optimizer], svgText(size - 80, 16 + 14 * Object.keys(lines).length, optimizer,
      { fill: PATH_COLOURS[optimizer] }));
  }
  let shownSteps = 0;        // drawn live: a step of every path at a time
  const grow = () => {
    shownSteps += 1;
    for (const [optimizer, steps] of Object.entries(result.paths)) {
      const upTo = steps.slice(0, shownSteps);
      lines[optimizer].setAttribute("points", [...upTo.map((s) => s.w), ...(upTo.length ? [upTo[upTo.length - 1].w_new] : [])]
        .map(([a, b]) => `${px(a)},${py(b)}`).join(" "));
      lines[optimizer].dataset.steps = upTo.length;
      const s = steps[shownSteps - 1];
      if (!s) continue;
      const dot = svgElement("circle", { cx: px(s.w[0]), cy: py(s.w[1]), r: 3.5, fill: PATH_COLOURS[optimizer],
        class: "path-point", "data-optimizer": optimizer, "data-step": shownSteps });
      dot.addEventListener("click", () => onPoint(optimizer, s, result.learning_rate));
      svg.append(dot);
    }
    if (shownSteps < Math.max(...Object.values(result.paths).map((s) => s.length))) setTimeout(grow, 40);
    else svg.dataset.drawn = "true";
  };
  svg.dataset.drawn = "false";
  grow();
}

export function renderPathStep(optimizer, s, learningRate) {
  // One step of a path, every number needed to check it by hand.
  const box = $("landscape_steps"), pair = (values) => `(${values.map(shown).join(", ")})`;
  const rows = [line("w before", number("path-w", 0, 0, 0, s.w[0], pair(s.w))),
    line("g = ∂L/∂w at w", number("path-g", 0, 0, 0, s.g[0], pair(s.g)))];
  for (const [key, values] of Object.entries(s.before)) rows.push(line(`${key} before`, number("path-before", 0, 0, 0, values[0], pair(values))));
  if (!Object.keys(s.before).length && optimizer !== "sgd") rows.push(line("state before", "zeros (the first step)"));
  for (const [key, values] of Object.entries(s.after)) rows.push(line(`${key} after`, number("path-after", 0, 0, 0, values[0], pair(values))));
  rows.push(line("w after", number("path-w-new", 0, 0, 0, s.w_new[0], pair(s.w_new))));
  const rule = { sgd: "w ← w − η g", momentum: "velocity ← 0.9 velocity + g;  w ← w − η velocity",
    adam: "m ← 0.9 m + 0.1 g;  v ← 0.999 v + 0.001 g²;  w ← w − η m̂ / (√v̂ + 1e-8), m̂ = m/(1 − 0.9ᵗ), v̂ = v/(1 − 0.999ᵗ)" }[optimizer];
  box.replaceChildren(card(`${optimizer}, step t = ${s.t} (η = ${learningRate}, loss ${shown(s.loss)})`, line(rule), ...rows));
}
