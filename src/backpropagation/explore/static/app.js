// backprop explore: draws what the server's network did. No numbers are computed here.
// The pieces: util.js (API, numbers as elements), step.js (the step, the chain, Your turn),
// draw.js (network, data, loss, units), panels.js (layer health, the loss landscape).
"use strict";

import { renderBoundary, renderLoss, renderNetwork, renderUnits } from "./draw.js";
import { healthWarning, renderHealth, renderLandscape, renderPathStep, weightOptions } from "./panels.js";
import { PHASES, askYourTurn, renderChain, renderStep } from "./step.js";
import { $, api } from "./util.js";

const DATASETS = ["moons", "circles", "xor", "spiral", "blobs", "linear"];
const ACTIVATIONS = ["relu", "tanh", "sigmoid", "leaky_relu", "elu", "softplus", "swish", "linear"];
const OPTIMIZERS = ["sgd", "momentum", "adam"];
const INITS = ["auto", "naive", "glorot", "he"];
const SETTINGS = ["layers", "dataset", "activation", "optimizer", "learning_rate", "batch_size", "seed",
  "noise", "test_fraction", "l2", "features", "init"];
const TEXT_SETTINGS = ["dataset", "activation", "optimizer", "init"];
const LABELS = { learning_rate: "learning rate", batch_size: "batch size", test_fraction: "test share" };
let state = null;
let lastStep = null;
let phase = "update";          // how much of the step on screen is revealed
let selected = null;           // {layer, row, col, chain} of the weight whose chain is shown
let running = false;
let health = null;

function renderAll() {
  renderNetwork(state, lastStep, phase, selected, (l, i, j) => guarded(() => follow(l, i, j)));
  renderBoundary(state, lastStep);
  renderLoss(state);
  renderUnits(state);
  renderChain(selected);
  const c = state.config, pending = lastStep && !lastStep.applied ? "; the step on screen is not applied yet" : "";
  $("status").textContent = `${c.dataset}, layers ${c.layers.join("-")}, ${c.activation}, ${c.init} start, ` +
    `${c.optimizer}: ${state.steps} step(s), ${state.epochs} epoch(s) trained${pending}`;
  $("warning").textContent = healthWarning(state, health);
}

async function follow(layer, row, col) {
  if (!lastStep) throw new Error("press Step first: the chain rule is that of a step");
  selected = { layer, row, col, chain: await api("/api/weight", { layer, row, col }) };
  guide(2);
  guide(3);
  renderAll();
}

async function advance(upTo) {
  // Step takes a new step and makes its update; Forward takes a new step and shows its forward
  // pass only (nothing updated); Backward reveals the backward pass; Update makes the update.
  if (upTo === "all" || upTo === "forward" || !lastStep) {
    const rows = $("step_rows").value === "batch" ? state.config.batch_size : 1;
    lastStep = await api("/api/step", { rows, apply: upTo === "all" });
    state = lastStep.state;
    selected = null;
    phase = upTo === "all" ? "update" : "forward";
  } else if (PHASES.indexOf(upTo) > PHASES.indexOf(phase)) {
    if (upTo === "update" && !lastStep.applied) {
      const applied = await api("/api/apply", {});
      state = applied.state;
      lastStep = { ...lastStep, applied: true };
    }
    phase = upTo;
  }
  renderStep(lastStep, phase, (l, i, j) => guarded(() => follow(l, i, j)));
  if (upTo === "all") guide(1);
  if ($("your_turn").checked && phase === "update") {
    const question = await api("/api/your-turn", {});
    askYourTurn(question, () => guide(4));
  }
  renderAll();
}

async function trainLoop() {
  while (running) {
    state = await api("/api/train", { epochs: 1 });
    lastStep = null;                          // the weights moved on: no stale step stays on screen
    selected = null;
    $("steps").innerHTML = '<p class="hint">Training moved the weights. Press <b>Step</b> to trace a step of the current network.</p>';
    health = await api("/api/health", {});
    renderHealth(health);
    renderAll();
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
}

async function refreshHealth() {
  health = await api("/api/health", {});
  renderHealth(health);
  $("warning").textContent = healthWarning(state, health);
}

async function afterNewNetwork() {
  lastStep = null;
  selected = null;
  phase = "update";
  $("steps").innerHTML = '<p class="hint">Press <b>Step</b> to run one training step on the next sample.</p>';
  fillControls();
  renderAll();
  await refreshHealth();
}

async function reset(settings) {
  running = false;
  state = await api("/api/reset", settings);
  await afterNewNetwork();
}

function parsed(name, value) {
  if (name === "layers") return value.split(",").map((s) => Number(s.trim()));
  if (name === "features") return value.split(",").map((s) => s.trim()).filter((s) => s);
  if (TEXT_SETTINGS.includes(name)) return value;
  const number = value.trim() === "" ? NaN : Number(value);
  if (!Number.isFinite(number)) throw new Error(`${LABELS[name] || name}: '${value}' is not a number`);
  return number;
}

function controlSettings() {
  for (const name of SETTINGS) {        // a number field holding text reads as "": say what happened
    if ($(name).validity && $(name).validity.badInput) throw new Error(`${LABELS[name] || name}: what was typed is not a number`);
    if ($(name).type === "number" && $(name).value.trim() === "") throw new Error(`${LABELS[name] || name}: empty; expected a number`);
  }
  const settings = Object.fromEntries(SETTINGS.map((name) => [name, parsed(name, $(name).value)]));
  if (settings.layers.some((size) => !Number.isInteger(size))) {
    throw new Error(`layers: '${$("layers").value}' is not a list of whole numbers such as 2,4,3,2`);
  }
  settings.layers[0] = settings.features.length;        // the input layer takes one unit per feature
  return settings;
}

function addressSettings() {
  const given = new URLSearchParams(location.hash.slice(1));
  return Object.fromEntries(SETTINGS.filter((name) => given.has(name)).map((name) => [name, parsed(name, given.get(name))]));
}

function fillControls() {
  const c = state.config;
  if (!DATASETS.includes(c.dataset) && !$("dataset").querySelector(`option[value="${c.dataset}"]`)) {
    $("dataset").append(new Option(c.dataset, c.dataset));
  }
  for (const name of SETTINGS) $(name).value = ["layers", "features"].includes(name) ? c[name].join(",") : c[name];
  const settings = new URLSearchParams(SETTINGS.filter((name) => c.dataset !== "uploaded" || name !== "dataset")
    .map((name) => [name, $(name).value]));
  history.replaceState(null, "", `#${settings}`);       // the address reopens this setup
  const options = weightOptions(c.layers);
  for (const [id, pick] of [["weight_a", 0], ["weight_b", 1]]) {
    $(id).replaceChildren(...options.map(([label, value]) => new Option(label, value)));
    $(id).selectedIndex = Math.min(pick, options.length - 1);
  }
}

async function upload(file) {
  if (!file) return;
  if (file.size > 60000) throw new Error(`${file.name}: larger than 60 kB; the explorer trains on small tables`);
  const text = await file.text();
  state = await api("/api/data", { csv: text });
  await afterNewNetwork();
}

async function drawLandscape() {
  const weights = [$("weight_a").value, $("weight_b").value].map((v) => v.split(",").map(Number));
  renderLandscape(await api("/api/landscape", { weights }), renderPathStep);
}

function guide(done) {
  const item = document.querySelector(`#guide [data-guide-step="${done}"]`);
  if (!item) return;
  item.dataset.done = "true";
  const finished = [...document.querySelectorAll("#guide [data-guide-step]")].map((li) => li.dataset.done === "true");
  localStorage.setItem("explore-guide", JSON.stringify(finished));
  document.querySelectorAll("#guide li").forEach((li) => li.classList.remove("next"));
  document.querySelector('#guide li:not([data-done="true"])')?.classList.add("next");
}

function setUpGuide() {
  const done = JSON.parse(localStorage.getItem("explore-guide") || "[]");
  if (localStorage.getItem("explore-guide-hidden") === "true" || (done.length && done.every((d) => d))) return;
  $("guide").hidden = false;
  done.forEach((d, k) => { if (d) guide(k + 1); });
  document.querySelector('#guide li:not([data-done="true"])')?.classList.add("next");
  $("guide_close").addEventListener("click", () => {
    $("guide").hidden = true;
    localStorage.setItem("explore-guide-hidden", "true");
  });
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

async function start() {
  let settings = {};
  try {
    settings = addressSettings();
  } catch (error) {
    $("error").textContent = `the address holds a setting the page cannot use (${error.message}); showing the last network`;
  }
  if (Object.keys(settings).length) {
    try {
      await reset(settings);
      return;
    } catch (error) {          // a bad address: say why, and show the tab's network as it is
      $("error").textContent = `the address holds settings the explorer refuses: ${error.message}`;
    }
  }
  state = await api("/api/state");
  await afterNewNetwork();
}

function setUp() {
  for (const [id, names] of [["dataset", DATASETS], ["activation", ACTIVATIONS], ["optimizer", OPTIMIZERS],
    ["init", INITS]]) {
    for (const name of names) $(id).append(new Option(name, name));
  }
  $("step").addEventListener("click", () => guarded(() => advance("all")));
  for (const name of PHASES) $(name).addEventListener("click", () => guarded(() => advance(name)));
  $("reset").addEventListener("click", () => guarded(() => reset(controlSettings())));
  $("upload").addEventListener("change", () => guarded(() => upload($("upload").files[0])));
  $("health_refresh").addEventListener("click", () => guarded(refreshHealth));
  $("landscape_draw").addEventListener("click", () => guarded(drawLandscape));
  $("train").addEventListener("click", () => {
    running = !running;
    $("train").textContent = running ? "Pause" : "Train";
    $("train").classList.toggle("running", running);
    if (running) guarded(trainLoop);
  });
  setUpGuide();
  guarded(start);
}

setUp();
