// Shared pieces of the page: the server's API (this tab's own network), and numbers as elements.
//
// Every number shown is an element with data-quantity (x, y, z, a, dA, fprime, delta, W, b, dW, db,
// W_new, b_new, W_change, velocity, m, v, upd-<term>, chain, nudge, nudge-plus, nudge-minus, ...),
// data-layer (1 = first weight layer, 0 = x and y), data-row and data-col (from 0, as the arrays
// are indexed) and data-value (the full-precision number). The labels a learner reads number
// layers and units from 1.
"use strict";

export const $ = (id) => document.getElementById(id);
export const SVG = "http://www.w3.org/2000/svg";

// Each tab makes its own id, kept for the tab's life (sessionStorage): the server keeps a network per tab.
function tabId() {
  let id = sessionStorage.getItem("explore-tab");
  if (!id) {
    const bytes = crypto.getRandomValues(new Uint8Array(12));
    id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    sessionStorage.setItem("explore-tab", id);
  }
  return id;
}
const TAB = tabId();

export async function api(path, body) {
  const options = { headers: { "X-Explorer-Tab": TAB } };
  if (body !== undefined) {
    Object.assign(options, { method: "POST", body: JSON.stringify(body) });
    options.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, options);
  const payload = await response.json();
  if (!response.ok) throw new Error(payload.error || response.statusText);
  return payload;
}

export function shown(value) {
  if (value === null || value === undefined) return "—";
  const size = Math.abs(value);
  return size !== 0 && (size >= 1e4 || size < 1e-3) ? value.toExponential(2) : value.toFixed(4);
}

export function precise(value) {
  return Number(value).toPrecision(10);
}

export function sup(n) {
  return String(n).replace(/\d/g, (d) => "⁰¹²³⁴⁵⁶⁷⁸⁹"[d]);
}

export function tagged(element, quantity, layer, row, col, value, text) {
  Object.assign(element.dataset, { quantity, layer, row, col, value: String(value) });
  element.textContent = text === undefined ? shown(value) : text;
  element.classList.add("num", value < 0 ? "negative" : "positive");
  return element;
}

export function number(quantity, layer, row, col, value, text) {
  return tagged(document.createElement("span"), quantity, layer, row, col, value, text);
}

export function vector(quantity, layer, values) {
  const box = document.createElement("span");
  box.className = "vector";
  box.append("[ ");
  values.forEach((v, j) => box.append(number(quantity, layer, 0, j, v)));
  box.append("]");
  return box;
}

export function matrix(quantity, layer, rows) {
  const table = document.createElement("table");
  table.className = "matrix";
  rows.forEach((values, i) => {
    const tr = table.insertRow();
    values.forEach((v, j) => tagged(tr.insertCell(), quantity, layer, i, j, v));     // (a cell is the number)
  });
  const scroll = document.createElement("div");      // a wide matrix scrolls; the page does not
  scroll.className = "scroll";
  scroll.append(table);
  return scroll;
}

export function line(formula, ...content) {
  const row = document.createElement("div");
  row.className = "row";
  const label = document.createElement("span");
  label.className = "formula";
  label.textContent = formula;
  row.append(label, ...content);
  return row;
}

export function card(title, ...rows) {
  const box = document.createElement("div");
  box.className = "layer";
  const h = document.createElement("h3");
  h.textContent = title;
  box.append(h, ...rows);
  return box;
}

export function note(text, kind) {
  const p = document.createElement("p");
  p.className = "note";
  if (kind) p.dataset.note = kind;
  p.textContent = text;
  return p;
}

export function svgElement(name, attributes) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  return element;
}

export function svgText(x, y, text, attributes = {}) {
  const element = svgElement("text", { x, y, class: "label", ...attributes });
  element.textContent = text;
  return element;
}

// Axis ticks: about `count` round numbers spanning [low, high].
export function ticks(low, high, count = 5) {
  if (!(high > low)) return [low];
  const raw = (high - low) / count, power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const first = Math.ceil(low / step) * step, found = [];
  for (let v = first; v <= high + step * 1e-9; v += step) found.push(Number(v.toPrecision(12)));
  return found;
}

export const CLASS_COLOURS = [[9, 105, 218], [207, 34, 46], [26, 127, 55], [130, 80, 223], [191, 135, 0], [87, 96, 106]];
