// The trees list: status, name, user, progress, started, duration; filters; pages; live.

import {ApiError, get} from "./api.js";
import {clear, duration, elapsed, h, progressBar, statusBadge, when} from "./dom.js";

const STATUSES = ["pending", "queued", "in_progress", "completed", "failed", "cancelled"];
const PAGE = 25;
const REFRESH_MS = 2000;

function treeProgress(tree) {
  if (typeof tree.progress === "number") return tree.progress;
  return ["completed", "failed", "cancelled"].includes(tree.status) ? 1 : 0;
}

function row(tree) {
  const link = `#/trees/${encodeURIComponent(tree.id)}`;
  return h("tr", {dataset: {tree: tree.id, status: tree.status}},
    h("td", {}, statusBadge(tree.status)),
    h("td", {class: "name"}, h("a", {href: link}, tree.name || tree.id.slice(0, 8)),
      h("span", {class: "id"}, tree.id.slice(0, 8))),
    h("td", {class: "user"}, tree.user_id || "—"),
    h("td", {class: "bar-cell"}, progressBar(treeProgress(tree))),
    h("td", {class: "time"}, when(tree.started_at || tree.created_at)),
    h("td", {class: "time"}, duration(elapsed(tree.started_at, tree.finished_at))));
}

export function treesView({view, notice, unauthorized}) {
  const state = {status: "", name: "", cursors: [null], page: 0, next: null};
  let timer = null;
  let alive = true;

  const statusSelect = h("select", {name: "status", "aria-label": "status"},
    h("option", {value: ""}, "any status"),
    STATUSES.map((s) => h("option", {value: s}, s.replace("_", " "))));
  const nameInput = h("input", {type: "search", name: "name", placeholder: "name",
    "aria-label": "name"});
  const body = h("tbody");
  const empty = h("p", {class: "empty", hidden: true}, "No trees yet. ",
    h("a", {href: "#/submit"}, "Submit one"), ", or run ",
    h("code", {}, "taskflow run --detach FILE"), ".");
  const prev = h("button", {type: "button", onclick: () => turn(-1)}, "← Newer");
  const next = h("button", {type: "button", onclick: () => turn(1)}, "Older →");

  async function load() {
    const params = new URLSearchParams({limit: PAGE});
    if (state.status) params.set("status", state.status);
    if (state.name) params.set("name", state.name);
    const cursor = state.cursors[state.page];
    if (cursor) params.set("cursor", cursor);
    try {
      const page = await get(`/v1/trees?${params}`);
      if (!alive) return;
      clear(body, page.items.map(row));
      empty.hidden = page.items.length > 0 || state.page > 0;
      state.next = page.next_cursor;
      prev.disabled = state.page === 0;
      next.disabled = !state.next;
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 401) { unauthorized(); return; }
      notice(`Could not list trees: ${exc.message}`);
    }
    schedule();
  }

  function schedule() {
    clearTimeout(timer);
    if (alive) timer = setTimeout(() => { if (!document.hidden) load(); else schedule(); }, REFRESH_MS);
  }

  function turn(step) {
    if (step > 0) {
      if (!state.next) return;
      state.cursors[state.page + 1] = state.next;
    }
    state.page = Math.max(0, state.page + step);
    load();
  }

  function filter() {
    state.status = statusSelect.value;
    state.name = nameInput.value.trim();
    state.cursors = [null];
    state.page = 0;
    load();
  }

  statusSelect.addEventListener("change", filter);
  let typing = null;
  nameInput.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(filter, 300); });

  clear(view, h("section", {class: "trees"},
    h("div", {class: "toolbar"}, h("h1", {}, "Trees"), statusSelect, nameInput),
    h("div", {class: "table-wrap"}, h("table", {class: "list", id: "trees"},
      h("thead", {}, h("tr", {},
        h("th", {}, "Status"), h("th", {}, "Name"), h("th", {class: "user"}, "User"),
        h("th", {}, "Progress"), h("th", {class: "time"}, "Started"), h("th", {class: "time"}, "Duration"))),
      body)),
    empty,
    h("div", {class: "pager"}, prev, next)));
  load();
  return () => { alive = false; clearTimeout(timer); };
}
