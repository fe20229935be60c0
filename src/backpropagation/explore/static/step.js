// The step on screen, phase by phase; one weight's chain rule and its nudge; Your turn.
"use strict";

import { $, api, card, line, matrix, note, number, precise, shown, sup, vector } from "./util.js";

const PHASE_TITLES = { forward: "1. Forward pass", backward: "2. Backward pass, output layer first",
  update: "3. Update" };
export const PHASES = ["forward", "backward", "update"];
const LARGE_STEP = 2000;

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

function healthNotes(layer) {
  // Dead and saturated units of this step, and why they matter.
  const notes = [], l = layer.number, list = (units) => units.map((j) => `${j}`).join(", ");
  if (layer.dead.length) {
    notes.push(note(`Dead for this sample: unit${layer.dead.length > 1 ? "s" : ""} ${list(layer.dead)} of layer ${l} ` +
      `(f′(z) = 0: a ${layer.activation} whose sum z is not positive). No gradient passes through them, so the ` +
      "weights into them do not change in this step; a unit dead for every sample never learns again.", "dead"));
  }
  if (layer.saturated.length) {
    notes.push(note(`Saturated: unit${layer.saturated.length > 1 ? "s" : ""} ${list(layer.saturated)} of layer ${l} ` +
      `(f′(z) is under 5% of its largest: the ${layer.activation} sits near its limits). They pass almost no ` +
      "gradient, so the layers below learn slowly.", "saturated"));
  }
  return notes;
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
    rows.push(...healthNotes(layer));
    return card(`Layer ${l}, backward`, ...rows);
  });
  return [loss, ...cards, inputCard(step)];
}

function inputCard(step) {
  // One more step down the chain: the inputs are not learned, but the same rule gives their gradients.
  const classes = step.inputs.dy_dx.map((_, k) => k + 1).join(", "), last = step.layers.length;
  return card("The inputs, one more step down the chain",
    line("∂L/∂x = δ¹ (W¹)ᵀ   (how the loss moves with each input)", matrix("dL_dx", 0, step.inputs.dL_dx)),
    line(`∂ŷ_k/∂x of sample #${step.sample}, a row per class k = ${classes}   (the same chain started from ` +
      `∂ŷ_k/∂a${sup(last)} = 1 for output k instead of the loss, with the weights before the step)`,
      matrix("dy_dx", 0, step.inputs.dy_dx)));
}

function updateCards(step) {
  const rule = card(`${step.optimizer}, η = ${step.learning_rate}, step t = ${step.t}`,
    ...step.update_rule.split("\n").map((text) => line(text)),
    line("g is ∂L/∂W from the backward pass; each line below is computed from the lines above it"));
  if (step.optimizer.startsWith("Adam") && step.t <= 3) {
    rule.append(note(`Look at ΔW: at step t = ${step.t} every weight moves by about η = ${step.learning_rate}, ` +
      "whatever the size of its gradient. Adam divides the (bias-corrected) mean of the gradients m̂ by the root of " +
      "their mean square √v̂; at t = 1, m̂ = g and v̂ = g², so the step is η g/|g| = ±η.", "adam-first-steps"));
  }
  return [rule, ...step.layers.map((layer) => {
    const l = layer.number, rows = [];
    for (const term of layer.update_terms) {
      const formula = term.formula.replace(/W/g, `W${sup(l)}`);
      rows.push(line(formula, matrix(term.key === "new" ? "W_new" : `upd-${term.key}`, l, term.W)));
    }
    if (!layer.update_terms.length) rows.push(line(`W${sup(l)} after the step`, matrix("W_new", l, layer.W_new)));
    rows.push(line(`ΔW${sup(l)} = W${sup(l)} after − before`, matrix("W_change", l, layer.W_change)));
    if (layer.b) rows.push(line(`b${sup(l)} after the step`, vector("b_new", l, layer.b_new)));
    for (const [name, values] of Object.entries(layer.optimizer_state)) {
      rows.push(line(`${name} of W${sup(l)} after the step (kept for the next)`, matrix(name, l, values)));
    }
    return card(`Layer ${l}, update`, ...rows);
  })];
}

export function renderStep(step, phase, onPick) {
  const box = $("steps");
  box.replaceChildren();
  if (!step) return;
  // Past LARGE_STEP weights, cards off screen wait to be laid out (style.css).
  const weights = step.layers.reduce((sum, layer) => sum + layer.W.length * layer.W[0].length, 0);
  box.classList.toggle("large", weights > LARGE_STEP);
  const which = step.samples.length > 1 ? `Samples #${step.samples.join(", #")} (a row each)` :
    `Sample #${step.sample} (class ${step.label + 1})`;
  box.append(card(which, line("x = a⁰", matrix("x", 0, step.x)), line("y (as the loss sees it)", matrix("y", 0, step.y))));
  const makers = { forward: forwardCards, backward: backwardCards, update: updateCards };
  PHASES.slice(0, PHASES.indexOf(phase) + 1).forEach((name) => {
    const section = document.createElement("section");
    section.dataset.phase = name;
    const title = document.createElement("h3");
    title.textContent = PHASE_TITLES[name];
    section.append(title, ...makers[name](step));
    box.append(section);
  });
  if (!step.applied) {
    box.append(note(phase === "update" ? "" : "This step's update has not been made yet: the weights are as " +
      "before it. Press Backward, then Update, to see it and make it.", "pending"));
  }
  box.querySelectorAll('[data-quantity="W"], [data-quantity="W_new"], [data-quantity="dW"]').forEach((cell) => {
    cell.classList.add("pick");
    cell.title = "follow this weight's chain rule";
    cell.addEventListener("click", () => onPick(+cell.dataset.layer, +cell.dataset.row, +cell.dataset.col));
  });
}

export function renderChain(selected) {
  const box = $("chain");
  box.replaceChildren();
  if (!selected) return;
  const { layer: l, row, col, chain } = selected;
  const i = row + 1, j = col + 1, name = `∂L/∂W${sup(l)}[${i},${j}]`;
  const input = (r, value) => l === 1 ? number("x", 0, r, row, value) : number("a", l - 1, r, row, value);
  const products = document.createElement("span");
  chain.terms.forEach((term, r) => products.append(r ? " + " : "", input(r, term.a_prev), " · ",
    number("delta", l, r, col, term.delta)));
  const sum = chain.rows > 1 ? `Σ over the ${chain.rows} rows of ` : "";
  const rows = [line(`${name} = ${sum}a${sup(l - 1)}[${i}] · δ${sup(l)}[${j}]`, products, " = ",
    number("chain", l, row, col, chain.value))];
  const first = chain.rows > 1 ? " (first row)" : "";
  if (chain.fused) {
    rows.push(line(`δ${sup(l)}[${j}]${first} = (ŷ[${j}] − y[${j}]) / N = (${shown(chain.y_hat)} − ${shown(chain.y)}) / ${chain.rows}`));
  } else if (chain.above) {
    const terms = document.createElement("span");
    chain.above.forEach((term, k) => terms.append(k ? " + " : "", number("delta", l + 1, 0, k, term.delta), "·",
      number("W", l + 1, col, k, term.W)));
    rows.push(line(`∂L/∂a${sup(l)}[${j}]${first} = Σₘ δ${sup(l + 1)}[m] W${sup(l + 1)}[${j},m]`, terms, " = ",
      number("dA", l, 0, col, chain.dA)));
    rows.push(line(`δ${sup(l)}[${j}]${first} = ∂L/∂a${sup(l)}[${j}] · f′(z${sup(l)}[${j}])`,
      number("dA", l, 0, col, chain.dA), " · ", number("fprime", l, 0, col, chain.fprime)));
    if (chain.fprime === 0) {
      rows.push(note(`Unit ${j} of layer ${l} is dead for this sample (f′(z) = 0): the chain stops here, so this ` +
        "weight gets no gradient from this step, however large the error above.", "dead-path"));
    }
  } else {
    rows.push(line(`δ${sup(l)}[${j}]${first} = ∂L/∂ŷ[${j}] · f′(z${sup(l)}[${j}])`, number("dA", l, 0, col, chain.dA),
      " · ", number("fprime", l, 0, col, chain.fprime)));
  }
  const nudge = chain.nudge, difference = nudge.loss_plus - nudge.loss_minus;
  rows.push(line(`nudge: the loss with this weight at w + ε and w − ε (ε = ${nudge.epsilon}, the weights before the step)`,
    number("nudge-plus", l, row, col, nudge.loss_plus, precise(nudge.loss_plus)), " and ",
    number("nudge-minus", l, row, col, nudge.loss_minus, precise(nudge.loss_minus))));
  rows.push(line("their difference, over 2ε: the slope measured without any calculus",
    number("nudge-difference", l, row, col, difference, precise(difference)), ` / ${2 * nudge.epsilon} = `,
    number("nudge", l, row, col, nudge.value)));
  box.append(card(`Follow one weight: W${sup(l)}[${i},${j}] (unit ${i} of layer ${l - 1} → unit ${j} of layer ${l})`, ...rows));
}

// ------------------------------------------------------------------ your turn
export function askYourTurn(question, onChecked) {
  // Hide the chosen number (its element keeps its place; its value leaves the page) and ask for it.
  const selector = `#steps [data-quantity="${question.quantity}"][data-layer="${question.layer}"]` +
    `[data-row="${question.row}"][data-col="${question.col}"]`;
  const target = document.querySelector(selector);
  if (!target) throw new Error(`the page shows no ${question.quantity} to hide`);
  const input = document.createElement("input");
  Object.assign(input, { type: "text", placeholder: "your number", title: question.prompt });
  Object.assign(input.dataset, { yourTurn: question.quantity, layer: question.layer, row: question.row, col: question.col });
  if (target.tagName === "TD") {                    // a matrix's cell: the box takes a cell of its own
    const cell = document.createElement("td");
    cell.append(input);
    target.replaceWith(cell);
  } else {
    target.replaceWith(input);
  }
  const verdict = document.createElement("span");
  verdict.dataset.verdict = "";
  const box = document.createElement("div");
  box.className = "layer your-turn";
  const check = document.createElement("button");
  Object.assign(check, { type: "button", textContent: "Check" });
  box.append(line(`Your turn: ${question.prompt}. Type it in the box (numbers as shown, four decimals are enough).`),
    check, verdict);
  $("steps").prepend(box);
  const submit = async () => {
    const value = Number(input.value.trim());
    if (input.value.trim() === "" || !Number.isFinite(value)) {
      verdict.dataset.verdict = "wrong";
      verdict.textContent = `'${input.value}' is not a number`;
      return;
    }
    const result = await api("/api/check", { value });
    verdict.dataset.verdict = result.right ? "right" : "wrong";
    verdict.textContent = result.message;
    if (result.right) onChecked();
  };
  check.addEventListener("click", () => submit().catch((error) => { $("error").textContent = error.message; }));
  input.addEventListener("keydown", (event) => { if (event.key === "Enter") check.click(); });
  input.focus();
}
