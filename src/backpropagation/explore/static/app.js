// backprop explore: draws what the server's network did. No numbers are computed here.
// Every number shown is an element with data-quantity (x, y, z, a, dA, fprime, delta, W, b, dW,
// db, W_new, b_new, W_change, velocity, m, v, chain, nudge), data-layer (1 = first weight
// layer, 0 = x and y), data-row, data-col and data-value (the full-precision number). W, ∂L/∂W
// and the optimizer's state: row = input unit, column = output unit; vectors: row 0. chain and
// nudge carry the layer, row and column of the weight they are about.
"use strict";

const $ = (id) => document.getElementById(id);
const DATASETS = ["moons", "circles", "xor", "spiral", "blobs", "linear"];
const ACTIVATIONS = ["relu", "tanh", "sigmoid", "leaky_relu", "elu", "softplus", "swish", "linear"];
const OPTIMIZERS = ["sgd", "momentum", "adam"];
const SETTINGS = ["layers", "dataset", "activation", "optimizer", "learning_rate", "batch_size", "seed",
  "noise", "test_fraction", "l2", "features"];
const TEXT_SETTINGS = ["dataset", "activation", "optimizer"];
const PHASES = ["forward", "backward", "update"];
const CLASS_COLOURS = [[9, 105, 218], [207, 34, 46], [26, 127, 55]];
const SVG = "http://www.w3.org/2000/svg";
const LABELLED_UNITS = 8;      // wider layers show their numbers on hover only
let state = null;
let lastStep = null;
let phase = "update";          // how much of the last step is revealed
let selected = null;           // {layer, row, col, chain} of the weight whose chain is shown
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
  Object.assign(element.dataset, { quantity, layer, row, col, value: String(value) });
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
  const scroll = document.createElement("div");      // a wide matrix scrolls; the page does not
  scroll.className = "scroll";
  scroll.append(table);
  return scroll;
}

function line(formula, ...content) {
  const row = document.createElement("div");
  row.className = "row";
  const label = document.createElement("span");
  label.className = "formula";
  label.textContent = formula;
  row.append(label, ...content);
  return row;
}

function card(title, ...rows) {
  const box = document.createElement("div");
  box.className = "layer";
  const h = document.createElement("h3");
  h.textContent = title;
  box.append(h, ...rows);
  return box;
}

function sup(n) {
  return String(n).replace(/\d/g, (d) => "⁰¹²³⁴⁵⁶⁷⁸⁹"[d]);
}

function forwardCards(step) {
  return step.layers.map((layer) => {
    const l = layer.number, bias = layer.b ? ` + b${sup(l)}` : "";
    const rows = [line(`W${sup(l)} (before the step)`, matrix("W", l, layer.W))];
    if (layer.b) rows.push(line(`b${sup(l)} (before the step)`, vector("b", l, layer.b)));
    rows.push(line(`z${sup(l)} = a${sup(l - 1)} W${sup(l)}${bias}`, matrix("z", l, layer.z)),
      line(`a${sup(l)} = ${layer.activation}(z${sup(l)})`, matrix("a", l, layer.a)));
    return card(`Layer ${l} (${layer.activation})`, ...rows);
  });
}

function backwardCards(step) {
  const last = step.layers.length, N = step.x.length;
  const loss = card(`Loss: ${step.loss_name}(ŷ, y) = ${shown(step.loss)}` + (N > 1 ? `, the mean over the N = ${N} rows` : ""),
    line(`ŷ = a${sup(last)}`, matrix("a", last, step.layers[last - 1].a)), line("y", matrix("y", 0, step.y)));
  const cards = [...step.layers].reverse().map((layer) => {
    const l = layer.number, rows = [];
    if (l === last && step.fused) {
      rows.push(line(`δ${sup(l)} = (ŷ − y) / N, N = ${N}   (${layer.activation} fused with the loss)`,
        matrix("delta", l, layer.delta)));
    } else {
      const from = l === last ? `∂L/∂a${sup(l)} (from the loss)` : `∂L/∂a${sup(l)} = δ${sup(l + 1)} (W${sup(l + 1)})ᵀ`;
      rows.push(line(from, matrix("dA", l, layer.dA)));
      if (layer.fprime) rows.push(line(`f′(z${sup(l)}) = ${layer.activation}′(z${sup(l)})`, matrix("fprime", l, layer.fprime)));
      rows.push(line(`δ${sup(l)} = ∂L/∂a${sup(l)} ⊙ f′(z${sup(l)})`, matrix("delta", l, layer.delta)));
    }
    const over = N > 1 ? `, summed over the ${N} rows` : "";
    rows.push(line(`∂L/∂W${sup(l)} = (a${sup(l - 1)})ᵀ δ${sup(l)}${over}`, matrix("dW", l, layer.dW)));
    if (layer.db) rows.push(line(`∂L/∂b${sup(l)} = Σ δ${sup(l)} over the rows (${N})`, vector("db", l, layer.db)));
    return card(`Layer ${l}, backward`, ...rows);
  });
  return [loss, ...cards, inputCard(step)];
}

function inputCard(step) {
  // One more step down the chain: the inputs are not learned, but the same rule gives their gradients.
  const classes = step.inputs.dy_dx.map((_, k) => k).join(", "), last = step.layers.length;
  return card("The inputs, one more step down the chain",
    line("∂L/∂x = δ¹ (W¹)ᵀ   (how the loss moves with each input)", matrix("dL_dx", 0, step.inputs.dL_dx)),
    line(`∂ŷ_k/∂x of sample #${step.sample}, a row per class k = ${classes}   (the same chain started from ` +
      `∂ŷ_k/∂a${sup(last)} = 1 for output k instead of the loss, with the weights before the step)`,
      matrix("dy_dx", 0, step.inputs.dy_dx)));
}

function updateCards(step) {
  const rule = card(`${step.optimizer}: ${step.update_rule}, η = ${step.learning_rate}`);
  return [rule, ...step.layers.map((layer) => {
    const l = layer.number;
    const rows = [line(`W${sup(l)} after the step`, matrix("W_new", l, layer.W_new)),
      line(`ΔW${sup(l)} = W${sup(l)} after − before`, matrix("W_change", l, layer.W_change))];
    if (layer.b) rows.push(line(`b${sup(l)} after the step`, vector("b_new", l, layer.b_new)));
    for (const [name, values] of Object.entries(layer.optimizer_state)) {
      rows.push(line(`${name} of W${sup(l)} after the step`, matrix(name, l, values)));
    }
    return card(`Layer ${l}, update`, ...rows);
  })];
}

function renderStep() {
  const box = $("steps");
  box.replaceChildren();
  if (!lastStep) return;
  const step = lastStep;
  const which = step.samples.length > 1 ? `Samples #${step.samples.join(", #")} (a row each)` :
    `Sample #${step.sample} (class ${step.label})`;
  box.append(card(which, line("x = a⁰", matrix("x", 0, step.x)), line("y (as the loss sees it)", matrix("y", 0, step.y))));
  const makers = { forward: forwardCards, backward: backwardCards, update: updateCards };
  PHASES.slice(0, PHASES.indexOf(phase) + 1).forEach((name) => {
    const section = document.createElement("section");
    section.dataset.phase = name;
    const title = document.createElement("h3");
    title.textContent = { forward: "1. Forward pass", backward: "2. Backward pass, output layer first",
      update: "3. Update" }[name];
    section.append(title, ...makers[name](step));
    box.append(section);
  });
  box.querySelectorAll('[data-quantity="W"], [data-quantity="W_new"], [data-quantity="dW"]').forEach((cell) => {
    cell.classList.add("pick");
    cell.title = "follow this weight's chain rule";
    cell.addEventListener("click", () => guarded(() => follow(+cell.dataset.layer, +cell.dataset.row, +cell.dataset.col)));
  });
}

async function follow(layer, row, col) {
  if (!lastStep) throw new Error("press Step first: the chain rule is that of a step");
  selected = { layer, row, col, chain: await api("/api/weight", { layer, row, col }) };
  renderChain();
  renderNetwork();
}

function renderChain() {
  const box = $("chain");
  box.replaceChildren();
  if (!selected) return;
  const { layer: l, row, col, chain } = selected;
  const name = `∂L/∂W${sup(l)}[${row},${col}]`;
  const input = (r, value) => l === 1 ? number("x", 0, r, row, value) : number("a", l - 1, r, row, value);
  const products = document.createElement("span");
  chain.terms.forEach((term, r) => products.append(r ? " + " : "", input(r, term.a_prev), " · ",
    number("delta", l, r, col, term.delta)));
  const sum = chain.rows > 1 ? `Σ over the ${chain.rows} rows of ` : "";
  const rows = [line(`${name} = ${sum}a${sup(l - 1)}[${row}] · δ${sup(l)}[${col}]`, products, " = ",
    number("chain", l, row, col, chain.value))];
  const first = chain.rows > 1 ? " (first row)" : "";
  if (chain.fused) {
    rows.push(line(`δ${sup(l)}[${col}]${first} = (ŷ[${col}] − y[${col}]) / N = (${shown(chain.y_hat)} − ${shown(chain.y)}) / ${chain.rows}`));
  } else if (chain.above) {
    const terms = document.createElement("span");
    chain.above.forEach((term, k) => terms.append(k ? " + " : "", number("delta", l + 1, 0, k, term.delta), "·",
      number("W", l + 1, col, k, term.W)));
    rows.push(line(`∂L/∂a${sup(l)}[${col}]${first} = Σₖ δ${sup(l + 1)}[k] W${sup(l + 1)}[${col},k]`, terms, " = ",
      number("dA", l, 0, col, chain.dA)));
    rows.push(line(`δ${sup(l)}[${col}]${first} = ∂L/∂a${sup(l)}[${col}] · f′(z${sup(l)}[${col}])`,
      number("dA", l, 0, col, chain.dA), " · ", number("fprime", l, 0, col, chain.fprime)));
  } else {
    rows.push(line(`δ${sup(l)}[${col}]${first} = ∂L/∂ŷ[${col}] · f′(z${sup(l)}[${col}])`, number("dA", l, 0, col, chain.dA),
      " · ", number("fprime", l, 0, col, chain.fprime)));
  }
  const nudge = chain.nudge;
  rows.push(line(`nudge: (L(w + ε) − L(w − ε)) / 2ε, ε = ${nudge.epsilon}`,
    `(${shown(nudge.loss_plus)} − ${shown(nudge.loss_minus)}) / ${2 * nudge.epsilon} = `,
    number("nudge", l, row, col, nudge.value)));
  box.append(card(`Follow one weight: W${sup(l)}[${row},${col}] (input unit ${row} → unit ${col} of layer ${l})`, ...rows));
}

function svgElement(name, attributes) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  return element;
}

function onPath(index, i, j) {
  // The edges from the selected weight to the loss: it, every edge out of its output unit, and
  // every edge above that layer.
  if (!selected) return false;
  const l = selected.layer - 1;
  return (index === l && i === selected.row && j === selected.col) || (index === l + 1 && i === selected.col) ||
    index > l + 1;
}

function renderNetwork() {
  const svg = $("network");
  svg.replaceChildren();
  const sizes = state.config.layers;
  const width = +svg.getAttribute("width"), height = +svg.getAttribute("height");
  const x = (l) => 50 + l * (width - 140) / (sizes.length - 1);
  const y = (l, j) => (j + 1) * height / (sizes[l] + 1);
  // Edges: the weights the shown numbers came from (before the last Step), else the current ones.
  const weights = lastStep ? lastStep.layers.map((layer) => layer.W) : state.weights.map((w) => w.W);
  const largest = Math.max(1e-12, ...weights.flatMap((W) => W.flat().map(Math.abs)));
  weights.forEach((W, index) => W.forEach((row, i) => row.forEach((w, j) => {
    const path = onPath(index, i, j);
    const edge = svgElement("line", {
      x1: x(index), y1: y(index, i), x2: x(index + 1), y2: y(index + 1, j),
      stroke: path ? "#1f2328" : w >= 0 ? "#0969da" : "#fb8500", "stroke-opacity": path ? 0.9 : 0.6,
      "stroke-width": 0.5 + 5 * Math.abs(w) / largest + (path ? 1.5 : 0),
      "data-layer": index + 1, "data-row": i, "data-col": j, class: path ? "edge path" : "edge",
    });
    // Under it, a wide transparent twin that takes the clicks a thin edge would miss.
    const hit = svgElement("line", { x1: x(index), y1: y(index, i), x2: x(index + 1), y2: y(index + 1, j),
      stroke: "transparent", "stroke-width": 9, class: "hit" });
    for (const target of [hit, edge]) {
      const title = svgElement("title", {});
      title.textContent = `W${sup(index + 1)}[${i},${j}] = ${shown(w)}: click to follow its chain rule`;
      target.append(title);
      target.addEventListener("click", () => guarded(() => follow(index + 1, i, j)));
    }
    svg.append(hit, edge);
  })));
  const labelled = Math.max(...sizes) <= LABELLED_UNITS;
  const radius = Math.max(3, Math.min(11, height / (Math.max(...sizes) + 1) / 2.5));
  sizes.forEach((size, l) => {
    for (let j = 0; j < size; j++) {
      const unit = svgElement("circle", { cx: x(l), cy: y(l, j), r: radius, fill: "#f6f8fa", stroke: "#57606a" });
      svg.append(unit);
      if (l === 0 && labelled) {
        const name = svgElement("text", { x: x(0) - 44, y: y(0, j) + 4 });
        name.textContent = state.config.features[j];
        svg.append(name);
      }
      if (!lastStep) continue;
      const values = l === 0 ? [["x", "x", lastStep.x[0][j]]] :     // the first row of the step
        [["z", "z", lastStep.layers[l - 1].z[0][j]], ["a", "a", lastStep.layers[l - 1].a[0][j]],
          ["δ", "delta", lastStep.layers[l - 1].delta[0][j]]];
      if (!labelled) {          // numbers on hover: the diagram stays readable
        const title = svgElement("title", {});
        title.textContent = values.map(([name, , value]) => `${name} ${shown(value)}`).join(", ");
        unit.append(title);
        continue;
      }
      values.forEach(([name, quantity, value], k) => {
        const text = svgElement("text", { x: x(l) + 14, y: y(l, j) - 12 + 13 * k });
        text.append(`${name} `, tagged(svgElement("tspan", {}), quantity, l === 0 ? 0 : l, 0, j, value));
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
  state.points.forEach(([u, v], i) => {       // test points hollow: training never sees them
    const [red, green, blue] = CLASS_COLOURS[state.labels[i] % 3];
    context.beginPath();
    context.arc(px(u), py(v), 3.5, 0, 2 * Math.PI);
    context.fillStyle = state.test[i] ? "#fff" : `rgb(${red},${green},${blue})`;
    context.fill();
    context.strokeStyle = state.test[i] ? `rgb(${red},${green},${blue})` : "#fff";
    context.stroke();
  });
  for (const sample of lastStep ? lastStep.samples : []) {
    const [u, v] = state.points[sample];
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
  svg.dataset.testEpochs = state.test_losses.length;
  const losses = state.losses, tested = state.test_losses;
  if (!losses.length) return;
  const width = +svg.getAttribute("width"), height = +svg.getAttribute("height");
  const top = Math.max(...losses, ...tested.map(([, v]) => v)), bottom = Math.min(0, ...losses);
  const at = (epoch, v) => `${10 + (epoch - 1) * (width - 20) / Math.max(1, losses.length - 1)},` +
    `${height - 10 - (v - bottom) / (top - bottom || 1) * (height - 30)}`;
  svg.append(svgElement("polyline", { points: losses.map((v, i) => at(i + 1, v)).join(" "), fill: "none",
    stroke: "#0969da", "stroke-width": 2, class: "training" }));
  if (tested.length) {
    svg.append(svgElement("polyline", { points: tested.map(([epoch, v]) => at(epoch, v)).join(" "), fill: "none",
      stroke: "#fb8500", "stroke-width": 2, class: "test" }));
  }
  const label = svgElement("text", { x: width - 210, y: 16 });
  const last = tested.length ? `, test ${shown(tested[tested.length - 1][1])}` : "";
  label.textContent = `epoch ${losses.length}: training ${shown(losses[losses.length - 1])}${last}`;
  svg.append(label);
}

function renderUnits() {
  // Each hidden unit's activation over the plane (dark: large), as TensorFlow Playground draws them.
  const box = $("units");
  box.replaceChildren();
  if (!state.units) {
    box.textContent = "(too many hidden units to draw one picture each)";
    return;
  }
  state.units.forEach((layer, index) => layer.forEach((values, j) => {
    const n = Math.round(Math.sqrt(values.length));
    const canvas = document.createElement("canvas");
    Object.assign(canvas, { width: n, height: n, title: `layer ${index + 1}, unit ${j}` });
    Object.assign(canvas.dataset, { layer: index + 1, unit: j });
    const low = Math.min(...values), high = Math.max(...values);
    const image = new ImageData(n, n);
    values.forEach((v, k) => {
      const shade = 255 - Math.round(220 * (v - low) / ((high - low) || 1));
      image.data.set([shade, shade, 255, 255], 4 * ((n - 1 - Math.floor(k / n)) * n + (k % n)));
    });
    canvas.getContext("2d").putImageData(image, 0, 0);
    box.append(canvas);
  }));
}

function render() {
  renderNetwork();
  renderBoundary();
  renderLoss();
  renderUnits();
  renderChain();
  const c = state.config;
  $("status").textContent = `${c.dataset}, layers ${c.layers.join("-")}, ${c.activation}, ${c.optimizer}: ` +
    `${state.steps} step(s), ${state.epochs} epoch(s) trained`;
}

function fillControls() {
  const c = state.config;
  for (const name of SETTINGS) $(name).value = ["layers", "features"].includes(name) ? c[name].join(",") : c[name];
  const settings = new URLSearchParams(SETTINGS.map((name) => [name, $(name).value]));
  history.replaceState(null, "", `#${settings}`);       // the address reopens this setup
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

async function advance(upTo) {
  // Step and Forward take a new step (showing all of it, or its forward pass); Backward and
  // Update reveal the next phases of the step on screen, or take a new one when that is shown.
  const target = upTo === "all" ? "update" : upTo;
  const reveals = lastStep && upTo !== "all" && upTo !== "forward" && PHASES.indexOf(phase) < PHASES.indexOf(target);
  if (!reveals) {
    const rows = $("step_rows").value === "batch" ? state.config.batch_size : 1;
    lastStep = await api("/api/step", { rows });
    state = lastStep.state;
    selected = null;
  }
  phase = target;
  renderStep();
  render();
}

async function trainLoop() {
  while (running) {
    state = await api("/api/train", { epochs: 1 });
    lastStep = null;                          // the weights moved on: no stale step stays on screen
    selected = null;
    $("steps").innerHTML = '<p class="hint">Training moved the weights. Press <b>Step</b> to trace a step of the current network.</p>';
    render();
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
}

async function reset(settings) {
  running = false;
  state = await api("/api/reset", settings);
  lastStep = null;
  selected = null;
  $("steps").innerHTML = '<p class="hint">Press <b>Step</b> to run one training step on the next sample.</p>';
  fillControls();
  render();
}

function parsed(name, value) {
  if (name === "layers") return value.split(",").map((s) => Number(s.trim()));
  if (name === "features") return value.split(",").map((s) => s.trim()).filter((s) => s);
  return TEXT_SETTINGS.includes(name) ? value : Number(value);
}

function controlSettings() {
  const settings = Object.fromEntries(SETTINGS.map((name) => [name, parsed(name, $(name).value)]));
  settings.layers[0] = settings.features.length;        // the input layer takes one unit per feature
  return settings;
}

function addressSettings() {
  const given = new URLSearchParams(location.hash.slice(1));
  return Object.fromEntries(SETTINGS.filter((name) => given.has(name)).map((name) => [name, parsed(name, given.get(name))]));
}

function setUp() {
  for (const [id, names] of [["dataset", DATASETS], ["activation", ACTIVATIONS], ["optimizer", OPTIMIZERS]]) {
    for (const name of names) $(id).append(new Option(name, name));
  }
  $("step").addEventListener("click", () => guarded(() => advance("all")));
  for (const name of PHASES) $(name).addEventListener("click", () => guarded(() => advance(name)));
  $("reset").addEventListener("click", () => guarded(() => reset(controlSettings())));
  $("train").addEventListener("click", () => {
    running = !running;
    $("train").textContent = running ? "Pause" : "Train";
    $("train").classList.toggle("running", running);
    if (running) guarded(trainLoop);
  });
  guarded(async () => {
    const settings = addressSettings();
    if (Object.keys(settings).length) {
      await reset(settings);
      return;
    }
    state = await api("/api/state");
    fillControls();
    render();
  });
}

setUp();
