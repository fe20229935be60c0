// Pictures: the network, the data with the decision boundary, the loss chart, each unit over the plane.
"use strict";

import { $, CLASS_COLOURS, shown, sup, svgElement, svgText, tagged, ticks } from "./util.js";

const LABELLED_UNITS = 8;      // wider layers show their numbers on hover only

function onPath(selected, index, i, j) {
  // The edges from the selected weight to the loss: it, every edge out of its unit, every edge above.
  if (!selected) return false;
  const l = selected.layer - 1;
  return (index === l && i === selected.row && j === selected.col) || (index === l + 1 && i === selected.col) ||
    index > l + 1;
}

export function renderNetwork(state, step, phase, selected, follow) {
  const svg = $("network");
  const sizes = state.config.layers, widest = Math.max(...sizes);
  const width = 640, height = Math.max(380, 26 * widest + 20);     // every unit gets room, whatever the size
  svg.setAttribute("height", height);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const x = (l) => 60 + l * (width - 170) / (sizes.length - 1);
  const y = (l, j) => (j + 1) * height / (sizes[l] + 1);
  const weights = step ? step.layers.map((layer) => layer.W) : state.weights.map((w) => w.W);
  const largest = Math.max(1e-12, ...weights.flatMap((W) => W.flat().map(Math.abs)));
  const deadAbove = (index, j) => step && phase !== "forward" && step.layers[index]?.dead.includes(j + 1);
  const [edges, units] = pictureParts(svg, sizes, x, y);
  let next = 0;
  weights.forEach((W, index) => W.forEach((row, i) => row.forEach((w, j) => {
    const path = onPath(selected, index, i, j), blocked = path && deadAbove(index, j);
    const edge = edges[next++];
    edge.setAttribute("stroke", path ? "#1f2328" : w >= 0 ? "#0969da" : "#fb8500");
    edge.setAttribute("stroke-opacity", path ? 0.9 : 0.55);
    edge.setAttribute("stroke-width", 0.5 + 5 * Math.abs(w) / largest + (path ? 1.5 : 0));
    edge.setAttribute("stroke-dasharray", blocked ? "4 3" : "none");
    edge.setAttribute("class", path ? "edge path" : "edge");
  })));
  // One listener for all edges, and an edge's tooltip made when the pointer first reaches it: a
  // title and a listener per edge made a large network's picture slow to restyle at every step.
  const edgeOf = (target) => target.closest("line.hit")?.nextElementSibling ?? target.closest("line.edge");
  svg.onclick = (event) => {
    const edge = edgeOf(event.target);
    if (edge) follow(+edge.dataset.layer, +edge.dataset.row, +edge.dataset.col);
  };
  svg.onmouseover = (event) => edgeTitle(event.target.closest("line.edge, line.hit"), edgeOf(event.target), weights);
  const labelled = widest <= LABELLED_UNITS;
  const radius = Math.max(4, Math.min(11, height / (widest + 1) / 2.6));
  sizes.forEach((size, l) => {
    for (let j = 0; j < size; j++) drawUnit(units, state, step, phase, l, j, x(l), y(l, j), radius, labelled);
  });
}

function pictureParts(svg, sizes, x, y) {
  // The picture's edges (each a wider target line, then the edge drawn) and an empty group for
  // the units. While the network keeps its shape the edges are the same elements, and only how
  // they look changes: building them again at every epoch of training kept the page busy.
  const shape = sizes.join(",");
  if (svg.dataset.shape === shape) {
    const [edgeGroup, units] = svg.children;
    edgeGroup.querySelectorAll("title").forEach((title) => title.remove());     // (they named old weights)
    units.replaceChildren();
    return [[...edgeGroup.querySelectorAll("line.edge")], units];
  }
  const edgeGroup = svgElement("g", {}), units = svgElement("g", {});
  sizes.slice(1).forEach((fanOut, index) => {
    for (let i = 0; i < sizes[index]; i++) {
      for (let j = 0; j < fanOut; j++) {
        const ends = { x1: x(index), y1: y(index, i), x2: x(index + 1), y2: y(index + 1, j) };
        edgeGroup.append(svgElement("line", { ...ends, stroke: "transparent", "stroke-width": 9, class: "hit" }),
          svgElement("line", { ...ends, "data-layer": index + 1, "data-row": i, "data-col": j, class: "edge" }));
      }
    }
  });
  svg.replaceChildren(edgeGroup, units);
  svg.dataset.shape = shape;
  return [[...edgeGroup.querySelectorAll("line.edge")], units];
}

function edgeTitle(line, edge, weights) {
  // The tooltip of the line under the pointer (the edge or its wider target), naming the edge's weight.
  if (!line || line.querySelector("title")) return;
  const l = +edge.dataset.layer, i = +edge.dataset.row, j = +edge.dataset.col;
  const title = svgElement("title", {});
  title.textContent = `W${sup(l)}[${i + 1},${j + 1}] = ${shown(weights[l - 1][i][j])}: click to follow its chain rule`;
  line.append(title);
}

function drawUnit(svg, state, step, phase, l, j, cx, cy, radius, labelled) {
  const layer = step && l > 0 ? step.layers[l - 1] : null;
  const kind = layer && phase !== "forward" ? (layer.dead.includes(j + 1) ? "dead" :
    layer.saturated.includes(j + 1) ? "saturated" : "") : "";
  const unit = svgElement("circle", { cx, cy, r: radius, fill: kind === "dead" ? "#eaeef2" : "#f6f8fa",
    stroke: kind ? "#9a6700" : "#57606a", "stroke-dasharray": kind === "saturated" ? "2 2" : "none",
    "data-layer": l, "data-unit": j + 1 });
  if (kind) unit.dataset.health = kind;
  svg.append(unit);
  if (kind === "dead") {        // a cross over the unit: no gradient passes
    const r = radius * 0.6;
    svg.append(svgElement("path", { d: `M${cx - r},${cy - r}L${cx + r},${cy + r}M${cx + r},${cy - r}L${cx - r},${cy + r}`,
      stroke: "#9a6700", "stroke-width": 1.5, class: "dead-mark" }));
  }
  if (l === 0 && labelled) svg.append(svgText(cx - 52, cy + 4, state.config.features[j]));
  if (!step) return;
  const values = l === 0 ? [["x", "x", step.x[0][j]]] :
    [["z", "z", layer.z[0][j]], ["a", "a", layer.a[0][j]]];
  if (l > 0 && phase !== "forward") values.push(["δ", "delta", layer.delta[0][j]]);   // the backward pass shown
  const title = svgElement("title", {});
  title.textContent = `${l === 0 ? "input" : `layer ${l}`}, unit ${j + 1}${kind ? ` (${kind})` : ""}: ` +
    values.map(([name, , value]) => `${name} ${shown(value)}`).join(", ");
  unit.append(title);
  if (!labelled) return;
  values.forEach(([name, quantity, value], k) => {
    const text = svgText(cx + 14, cy - 12 + 13 * k, `${name} `);
    text.append(tagged(svgElement("tspan", {}), quantity, l, 0, j, value));
    svg.append(text);
  });
}

function classColour(k) {
  const [r, g, b] = CLASS_COLOURS[k % CLASS_COLOURS.length];
  return `rgb(${r},${g},${b})`;
}

export function renderBoundary(state, step) {
  const svg = $("boundary");
  svg.replaceChildren();
  const grid = state.grid, n = grid.size, size = 420, left = 38, bottom = 30, plot = size - left - 8;
  const cells = document.createElement("canvas");
  cells.width = cells.height = n;
  const image = new ImageData(n, n);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      const k = r * n + c, [red, green, blue] = CLASS_COLOURS[grid.class[k] % CLASS_COLOURS.length];
      image.data.set([red, green, blue, 255 * Math.max(0.1, 0.15 + 0.9 * (grid.confidence[k] - 0.5))],
        4 * ((n - 1 - r) * n + c));
    }
  }
  cells.getContext("2d").putImageData(image, 0, 0);
  svg.append(svgElement("image", { href: cells.toDataURL(), x: left, y: 8, width: plot, height: plot - bottom + 8,
    preserveAspectRatio: "none" }));
  const height = plot - bottom + 8;
  const px = (v) => left + (v - grid.x[0]) / (grid.x[1] - grid.x[0]) * plot;
  const py = (v) => 8 + height - (v - grid.y[0]) / (grid.y[1] - grid.y[0]) * height;
  axes(svg, ticks(grid.x[0], grid.x[1]), ticks(grid.y[0], grid.y[1]), px, py, left, 8 + height, size - 8, 8);
  svg.append(svgText(left + plot / 2 - 8, size - 4, state.config.features[0] || "x1"),
    svgText(2, 14, state.config.features[1] || "x2"));
  state.points.forEach(([u, v], i) => {
    const colour = classColour(state.labels[i]);
    svg.append(svgElement("circle", { cx: px(u), cy: py(v), r: 3.5, fill: state.test[i] ? "#fff" : colour,
      stroke: state.test[i] ? colour : "#fff", "data-class": state.labels[i] }));
  });
  for (const sample of step ? step.samples : []) {
    const [u, v] = state.points[sample];
    svg.append(svgElement("circle", { cx: px(u), cy: py(v), r: 9, fill: "none", stroke: "#1f2328", "stroke-width": 2.5 }));
  }
  const names = state.classes || [...new Set(state.labels)].sort((a, b) => a - b).map((k) => `class ${k + 1}`);
  const legend = $("legend");
  legend.replaceChildren(...names.map((name, k) => {
    const item = document.createElement("span");
    item.style.setProperty("--colour", classColour(k));
    item.dataset.legend = k;
    item.textContent = name;
    return item;
  }));
  if (state.test.some((t) => t)) legend.append("hollow: test points (training never sees them)");
}

function axes(svg, xs, ys, px, py, x0, y0, x1, y1) {
  // Two axes with ticks and their numbers.
  svg.append(svgElement("line", { x1: x0, y1: y0, x2: x1, y2: y0, stroke: "#57606a", class: "axis" }),
    svgElement("line", { x1: x0, y1: y0, x2: x0, y2: y1, stroke: "#57606a", class: "axis" }));
  for (const v of xs) {
    svg.append(svgElement("line", { x1: px(v), y1: y0, x2: px(v), y2: y0 + 4, stroke: "#57606a" }),
      svgText(px(v) - 8, y0 + 14, String(v), { "data-tick": "x" }));
  }
  for (const v of ys) {
    svg.append(svgElement("line", { x1: x0 - 4, y1: py(v), x2: x0, y2: py(v), stroke: "#57606a" }),
      svgText(2, py(v) + 3, String(v), { "data-tick": "y" }));
  }
}

export function renderLoss(state) {
  const svg = $("loss");
  svg.replaceChildren();
  svg.dataset.epochs = state.losses.length;
  svg.dataset.testEpochs = state.test_losses.length;
  const losses = state.losses, tested = state.test_losses, accuracy = state.accuracies;
  const width = 420, height = 200, left = 40, right = 36, top = 24, bottom = 26;
  const epochs = Math.max(2, losses.length);
  const high = Math.max(1e-12, ...losses, ...tested.map(([, v]) => v));
  const px = (e) => left + (e - 1) / (epochs - 1) * (width - left - right);
  const py = (v) => top + (1 - v / high) * (height - top - bottom);
  const pa = (v) => top + (1 - v) * (height - top - bottom);            // accuracy: 0 to 1, right axis
  axes(svg, ticks(1, epochs, 5).filter((e) => Number.isInteger(e)), ticks(0, high, 4), px, py, left, height - bottom,
    width - right, top);
  svg.append(svgText(width / 2 - 16, height - 2, "epoch"), svgText(left - 30, 12, "loss"),
    svgText(width - right - 60, top + 10, "accuracy", { fill: "#1a7f37" }));
  for (const v of [0, 0.5, 1]) svg.append(svgText(width - right + 4, pa(v) + 3, String(v), { fill: "#1a7f37" }));
  if (!losses.length) {
    svg.append(svgText(left + 20, height / 2, "press Train: the loss of each epoch is drawn here"));
    return;
  }
  const polyline = (points, colour, name) => svg.append(svgElement("polyline", { points: points.join(" "), fill: "none",
    stroke: colour, "stroke-width": 2, class: name }));
  polyline(losses.map((v, i) => `${px(i + 1)},${py(v)}`), "#0969da", "training");
  if (tested.length) polyline(tested.map(([e, v]) => `${px(e)},${py(v)}`), "#fb8500", "test");
  if (accuracy.length) polyline(accuracy.map((v, i) => `${px(i + 1)},${pa(v)}`), "#1a7f37", "accuracy");
  const last = tested.length ? `, test ${shown(tested[tested.length - 1][1])}` : "";
  const acc = accuracy.length ? `, accuracy ${accuracy[accuracy.length - 1].toFixed(3)}` : "";
  const label = svgText(left + 6, 14, `epoch ${losses.length}: training loss ${shown(losses[losses.length - 1])}${last}${acc}`);
  label.dataset.role = "loss-label";
  svg.append(label);
}

export function renderUnits(state) {
  // Each hidden unit's activation over the plane (dark: large), labelled a^l_j.
  const box = $("units");
  box.replaceChildren();
  if (!state.units) {
    box.textContent = "(too many hidden units to draw one picture each)";
    return;
  }
  state.units.forEach((layer, index) => layer.forEach((values, j) => {
    const n = Math.round(Math.sqrt(values.length));
    const figure = document.createElement("figure");
    const canvas = document.createElement("canvas");
    Object.assign(canvas, { width: n, height: n, title: `layer ${index + 1}, unit ${j + 1}` });
    Object.assign(canvas.dataset, { layer: index + 1, unit: j + 1 });
    const low = Math.min(...values), high = Math.max(...values);
    const image = new ImageData(n, n);
    values.forEach((v, k) => {
      const shade = 255 - Math.round(220 * (v - low) / ((high - low) || 1));
      image.data.set([shade, shade, 255, 255], 4 * ((n - 1 - Math.floor(k / n)) * n + (k % n)));
    });
    canvas.getContext("2d").putImageData(image, 0, 0);
    const caption = document.createElement("figcaption");
    caption.textContent = `a${sup(index + 1)}[${j + 1}]`;
    figure.append(canvas, caption);
    box.append(figure);
  }));
}
