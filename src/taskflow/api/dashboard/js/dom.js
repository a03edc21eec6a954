// Small DOM and formatting helpers shared by the views.

/** Build an element: h("a", {href: "#"}, "text", child). Attributes starting with "on" are listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "style") el.style.cssText = value; // CSSOM: allowed by the page's CSP
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export const STATUS_ICON = {
  pending: "○", queued: "◔", in_progress: "◐", completed: "●", failed: "✕", cancelled: "⊘",
  waiting: "◇",
};

/** The status a person cares about: a running task that waits for a signal is "waiting". */
export function shownStatus(task) {
  return task.status === "in_progress" && task.waiting ? "waiting" : task.status;
}

export function statusBadge(status) {
  return h("span", {class: `status s-${status}`, title: status},
    h("span", {class: "icon", "aria-hidden": "true"}, STATUS_ICON[status] || "?"),
    status.replace("_", " "));
}

export function progressBar(fraction) {
  const pct = Math.round(Math.max(0, Math.min(1, fraction || 0)) * 100);
  return h("span", {class: "progress", role: "progressbar", "aria-valuenow": pct,
    "aria-valuemin": 0, "aria-valuemax": 100, title: `${pct}%`},
    h("span", {class: "fill", style: `width:${pct}%`}));
}

export function ms(iso) {
  return iso ? Date.parse(iso) : null;
}

/** "1.2 s", "3 min 4 s", "2 h 5 min". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60), s = Math.round(seconds % 60);
  if (m < 60) return `${m} min ${s} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function elapsed(startIso, endIso) {
  const start = ms(startIso);
  if (start === null) return null;
  const end = ms(endIso) ?? Date.now();
  return Math.max(0, (end - start) / 1000);
}

export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleString();
}

export function clear(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
  return el;
}
