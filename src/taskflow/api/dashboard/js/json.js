// A JSON viewer: objects and arrays fold (<details>), scalars are coloured by type.

import {h} from "./dom.js";

const OPEN_DEPTH = 2;
const MAX_ITEMS = 200; // per level; the rest is summarised

function scalar(value) {
  if (value === null) return h("span", {class: "j-null"}, "null");
  switch (typeof value) {
    case "string": return h("span", {class: "j-str"}, JSON.stringify(value));
    case "number": return h("span", {class: "j-num"}, String(value));
    case "boolean": return h("span", {class: "j-bool"}, String(value));
    default: return h("span", {}, String(value));
  }
}

function node(value, depth) {
  if (value === null || typeof value !== "object") return scalar(value);
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  const [open, close] = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  if (!entries.length) return h("span", {class: "j-punct"}, open + close);
  const items = entries.slice(0, MAX_ITEMS).map(([k, v]) =>
    h("li", {}, Array.isArray(value) ? null : h("span", {class: "j-key"}, `${JSON.stringify(k)}: `),
      node(v, depth + 1)));
  if (entries.length > MAX_ITEMS) items.push(h("li", {class: "j-more"}, `… ${entries.length - MAX_ITEMS} more`));
  const label = Array.isArray(value) ? `${open} ${entries.length} items ${close}` : `${open} ${entries.length} keys ${close}`;
  return h("details", {class: "j-fold", open: depth < OPEN_DEPTH},
    h("summary", {class: "j-punct"}, label), h("ul", {class: "j-items"}, items));
}

/** A viewer for `value`, with a button that copies it as JSON. */
export function jsonView(value) {
  const copy = h("button", {type: "button", class: "link copy", onclick: async () => {
    try { await navigator.clipboard.writeText(JSON.stringify(value, null, 2)); copy.textContent = "copied"; }
    catch { copy.textContent = "copy failed"; }
  }}, "copy");
  return h("div", {class: "json"}, copy, node(value, 0));
}
