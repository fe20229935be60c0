// backprop explore: draws what the server's network did. No numbers are computed here.
// Every number shown for x, y, z, a, δ, W, b, ∂L/∂W, ∂L/∂b is an element with data-quantity,
// data-layer (1 = first weight layer, 0 = x and y), data-row, data-col and data-value (the
// full-precision number). W and ∂L/∂W: row = input unit, column = output unit; vectors: row 0.
"use strict";

const $ = (id) => document.getElementById(id);
const DATASETS = ["moons", "circles", "xor", "spiral", "blobs", "linear"];
const ACTIVATIONS = ["relu", "tanh", "sigmoid", "leaky_relu", "elu", "softplus", "swish", "linear"];
const CLASS_COLOURS = [[9, 105, 218], [207, 34, 46], [26, 127, 55]];
const SVG = "http://www.w3.org/2000/svg";
let state = null;
let lastStep = null;
let running = false;

async function api(path, body) {
  const options = body === undefined ? {} :
    { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, options);
  const payload = await response.json();
  if (!response.ok) throw new Error(payload.error || response.statusText);
  return payload;
}

function shown(value) {
  const size = Math.abs(value);
  return size !== 0 && (size >= 1e4 || size < 1e-3) ? value.toExponential(2) : value.toFixed(4);
}

function tagged(element, quantity, layer, row, col, value) {
  element.dataset.quantity = quantity;
  element.dataset.layer = layer;
  element.dataset.row = row;
  element.dataset.col = col;
  element.dataset.value = String(value);
  element.textContent = shown(value);
  element.classList.add("num", value < 0 ? "negative" : "positive");
  return element;
}

function number(quantity, layer, row, col, value) {
  return tagged(document.createElement("span"), quantity, layer, row, col, value);
}

function vector(quantity, layer, values) {
  const box = document.createElement("span");
  box.className = "vector";
  box.append("[ ");
  values.forEach((v, j) => box.append(number(quantity, layer, 0, j, v)));
  box.append("]");
  return box;
}

function matrix(quantity, layer, rows) {
  const table = document.createElement("table");
  table.className = "matrix";
  rows.forEach((values, i) => {
    const tr = table.insertRow();
    values.forEach((v, j) => tr.insertCell().append(number(quantity, layer, i, j, v)));
  });
  return table;
}

function line(formula, content) {
  const row = document.createElement("div");
  row.className = "row";
  const label = document.createElement("span");
  label.className = "formula";
  label.textContent = formula;
  row.append(label, content);
  return row;
}

function renderStep(step) {
  const box = $("steps");
  box.replaceChildren();
  const head = document.createElement("div");
  head.className = "layer";
  const title = document.createElement("h3");
  title.textContent = `Sample #${step.sample} (class ${step.label}); loss ${step.loss_name} = ${shown(step.loss)}`;
  head.append(title, line("x = a⁰", vector("x", 0, step.x)), line("y (as the loss sees it)", vector("y", 0, step.y)));
  box.append(head);
  const last = step.layers.length;
  const eta = step.learning_rate;
  for (const layer of step.layers) {
    const l = layer.number;
    const card = document.createElement("div");
    card.className = "layer";
    const h = document.createElement("h3");
    h.textContent = `Layer ${l} (${layer.activation})`;
    card.append(h);
    card.append(line(`z${sup(l)} = a${sup(l - 1)} W${sup(l)} + b${sup(l)}`, vector("z", l, layer.z)));
    card.append(line(`a${sup(l)} = f(z${sup(l)})`, vector("a", l, layer.a)));
    const deltaRule = l === last && step.fused ? `δ${sup(l)} = (ŷ − y) / N` :
      l === last ? `δ${sup(l)} = ∂L/∂a${sup(l)} ⊙ f′(z${sup(l)})` :
      `δ${sup(l)} = (δ${sup(l + 1)} W${sup(l + 1)}ᵀ) ⊙ f′(z${sup(l)})`;
    card.append(line(deltaRule, vector("delta", l, layer.delta)));
    card.append(line(`∂L/∂W${sup(l)} = (a${sup(l - 1)})ᵀ δ${sup(l)}`, matrix("dW", l, layer.dW)));
    if (layer.db) card.append(line(`∂L/∂b${sup(l)} = δ${sup(l)}`, vector("db", l, layer.db)));
    card.append(line(`W${sup(l)} (before the step)`, matrix("W", l, layer.W)));
    card.append(line(`W${sup(l)} ← W${sup(l)} − η ∂L/∂W${sup(l)}, η = ${eta}`, matrix("W_new", l, layer.W_new)));
    if (layer.b) {
      card.append(line(`b${sup(l)} (before the step)`, vector("b", l, layer.b)));
      card.append(line(`b${sup(l)} ← b${sup(l)} − η ∂L/∂b${sup(l)}`, vector("b_new", l, layer.b_new)));
    }
    box.append(card);
  }
}

function sup(n) {
  return String(n).replace(/\d/g, (d) => "⁰¹²³⁴⁵⁶⁷⁸⁹"[d]);
}

function svgElement(name, attributes) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  return element;
}

function renderNetwork() {
  const svg = $("network");
  svg.replaceChildren();
  const sizes = state.config.layers;
  const width = +svg.getAttribute("width"), height = +svg.getAttribute("height");
  const x = (l) => 50 + l * (width - 140) / (sizes.length - 1);
  const y = (l, j) => (j + 1) * height / (sizes[l] + 1);
  const largest = Math.max(1e-12, ...state.weights.flatMap((w) => w.W.flat().map(Math.abs)));
  state.weights.forEach((layer, index) => {
    layer.W.forEach((row, i) => row.forEach((w, j) => {
      svg.append(svgElement("line", {
        x1: x(index), y1: y(index, i), x2: x(index + 1), y2: y(index + 1, j),
        stroke: w >= 0 ? "#0969da" : "#fb8500", "stroke-opacity": 0.75,
        "stroke-width": 0.5 + 5 * Math.abs(w) / largest,
      }));
    }));
  });
  sizes.forEach((size, l) => {
    for (let j = 0; j < size; j++) {
      svg.append(svgElement("circle", { cx: x(l), cy: y(l, j), r: 11, fill: "#f6f8fa", stroke: "#57606a" }));
      if (!lastStep) continue;
      const labels = l === 0 ? [["x", "x", lastStep.x[j]]] :
        [["z", "z", lastStep.layers[l - 1].z[j]], ["a", "a", lastStep.layers[l - 1].a[j]],
          ["δ", "delta", lastStep.layers[l - 1].delta[j]]];
      labels.forEach(([name, quantity, value], k) => {
        const text = svgElement("text", { x: x(l) + 14, y: y(l, j) - 12 + 13 * k });
        const tspan = tagged(svgElement("tspan", {}), quantity, l === 0 ? 0 : l, 0, j, value);
        text.append(`${name} `, tspan);
        svg.append(text);
      });
    }
  });
}

function renderBoundary() {
  const canvas = $("boundary");
  const context = canvas.getContext("2d");
  const grid = state.grid, n = grid.size;
  const image = new ImageData(n, n);       // one pixel per grid cell, scaled up smoothly below
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      const k = r * n + c, pixel = 4 * ((n - 1 - r) * n + c);
      const [red, green, blue] = CLASS_COLOURS[grid.class[k] % 3];
      image.data.set([red, green, blue, 255 * Math.max(0.1, 0.15 + 0.9 * (grid.confidence[k] - 0.5))], pixel);
    }
  }
  const cells = document.createElement("canvas");
  cells.width = cells.height = n;
  cells.getContext("2d").putImageData(image, 0, 0);
  context.clearRect(0, 0, canvas.width, canvas.height);
  context.imageSmoothingEnabled = true;
  context.drawImage(cells, 0, 0, canvas.width, canvas.height);
  const px = (v) => (v - grid.x[0]) / (grid.x[1] - grid.x[0]) * canvas.width;
  const py = (v) => canvas.height - (v - grid.y[0]) / (grid.y[1] - grid.y[0]) * canvas.height;
  state.points.forEach(([u, v], i) => {
    const [red, green, blue] = CLASS_COLOURS[state.labels[i] % 3];
    context.beginPath();
    context.arc(px(u), py(v), 3.5, 0, 2 * Math.PI);
    context.fillStyle = `rgb(${red},${green},${blue})`;
    context.fill();
    context.strokeStyle = "#fff";
    context.stroke();
  });
  if (lastStep) {
    const [u, v] = state.points[lastStep.sample];
    context.beginPath();
    context.arc(px(u), py(v), 9, 0, 2 * Math.PI);
    context.lineWidth = 2.5;
    context.strokeStyle = "#1f2328";
    context.stroke();
    context.lineWidth = 1;
  }
}

function renderLoss() {
  const svg = $("loss");
  svg.replaceChildren();
  svg.dataset.epochs = state.losses.length;
  const losses = state.losses;
  if (!losses.length) return;
  const width = +svg.getAttribute("width"), height = +svg.getAttribute("height");
  const top = Math.max(...losses), bottom = Math.min(0, ...losses);
  const points = losses.map((v, i) =>
    `${10 + i * (width - 20) / Math.max(1, losses.length - 1)},${height - 10 - (v - bottom) / (top - bottom || 1) * (height - 30)}`);
  svg.append(svgElement("polyline", { points: points.join(" "), fill: "none", stroke: "#0969da", "stroke-width": 2 }));
  const label = svgElement("text", { x: width - 150, y: 16 });
  label.textContent = `epoch ${losses.length}: ${shown(losses[losses.length - 1])}`;
  svg.append(label);
}

function render() {
  renderNetwork();
  renderBoundary();
  renderLoss();
  $("status").textContent = `${state.config.dataset}, layers ${state.config.layers.join("-")}, ` +
    `${state.config.activation}: ${state.steps} step(s), ${state.epochs} epoch(s) trained`;
}

function fillControls() {
  const c = state.config;
  $("layers").value = c.layers.join(",");
  $("dataset").value = c.dataset;
  $("activation").value = c.activation;
  $("learning_rate").value = c.learning_rate;
  $("batch_size").value = c.batch_size;
  $("seed").value = c.seed;
}

async function guarded(action) {
  try {
    $("error").textContent = "";
    await action();
  } catch (error) {
    $("error").textContent = error.message;
    running = false;
    $("train").textContent = "Train";
    $("train").classList.remove("running");
  }
}

async function step() {
  lastStep = await api("/api/step", {});
  state = lastStep.state;
  renderStep(lastStep);
  render();
}

async function trainLoop() {
  while (running) {
    state = await api("/api/train", { epochs: 1 });
    render();
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
}

async function reset() {
  running = false;
  const layers = $("layers").value.split(",").map((s) => Number(s.trim()));
  state = await api("/api/reset", {
    layers, dataset: $("dataset").value, activation: $("activation").value,
    learning_rate: Number($("learning_rate").value), batch_size: Number($("batch_size").value),
    seed: Number($("seed").value),
  });
  lastStep = null;
  $("steps").innerHTML = '<p class="hint">Press <b>Step</b> to run one training step on the next sample.</p>';
  render();
}

function setUp() {
  for (const [id, names] of [["dataset", DATASETS], ["activation", ACTIVATIONS]]) {
    for (const name of names) $(id).append(new Option(name, name));
  }
  $("step").addEventListener("click", () => guarded(step));
  $("reset").addEventListener("click", () => guarded(reset));
  $("train").addEventListener("click", () => {
    running = !running;
    $("train").textContent = running ? "Pause" : "Train";
    $("train").classList.toggle("running", running);
    if (running) guarded(trainLoop);
  });
  guarded(async () => {
    state = await api("/api/state");
    fillControls();
    render();
  });
}

setUp();
