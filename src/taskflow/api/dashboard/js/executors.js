// The executors this server can run: id, description, input and output schemas.

import {ApiError, get} from "./api.js";
import {clear, h} from "./dom.js";
import {jsonView} from "./json.js";

function card(executor, open) {
  return h("details", {class: "card executor", id: `executor-${executor.id}`, open},
    h("summary", {}, h("code", {}, executor.id), " ", h("span", {class: "name"}, executor.name || ""),
      executor.rerun_safe ? h("span", {class: "tag"}, "rerun-safe") : null,
      executor.max_concurrency ? h("span", {class: "tag"}, `≤ ${executor.max_concurrency} at once`) : null),
    h("p", {class: "description"}, executor.description || "No description."),
    h("h3", {}, "Input schema"), jsonView(executor.input_schema),
    executor.output_schema ? [h("h3", {}, "Output schema"), jsonView(executor.output_schema)] : null,
    executor.safety && executor.safety.length ? [h("h3", {}, "Safety settings"), jsonView(executor.safety)] : null);
}

export function executorsView({view, notice, unauthorized}, focus) {
  let alive = true;
  const list = h("div", {class: "executors", id: "executors"}, h("p", {}, "Loading…"));
  const search = h("input", {type: "search", placeholder: "filter", "aria-label": "filter executors"});
  clear(view, h("section", {}, h("div", {class: "toolbar"}, h("h1", {}, "Executors"), search), list));
  let all = [];
  const paint = () => {
    const term = search.value.trim().toLowerCase();
    const shown = all.filter((e) => !term || `${e.id} ${e.name} ${e.description}`.toLowerCase().includes(term));
    clear(list, shown.map((e) => card(e, e.id === focus)));
    if (focus) document.getElementById(`executor-${focus}`)?.scrollIntoView();
  };
  search.addEventListener("input", paint);
  get("/v1/executors").then((page) => { if (alive) { all = page.items; paint(); } }).catch((exc) => {
    if (exc instanceof ApiError && exc.status === 401) unauthorized();
    else notice(`Could not list executors: ${exc.message}`);
  });
  return () => { alive = false; };
}
