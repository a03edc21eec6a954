// One tree: its tasks as a collapsible hierarchy with a timeline, live; a task's details.
// A windowed list: only the rows in view exist in the page, so a 10,000-task tree stays quick.

import {ApiError, follow, get, post} from "./api.js";
import {clear, duration, elapsed, h, ms, progressBar, shownStatus, statusBadge, when} from "./dom.js";
import {taskDetail} from "./task.js";

const ROW_PX = 30;
const OVERSCAN = 12;
const EXPAND_ALL_UP_TO = 300; // tasks; bigger trees open with their groups collapsed
const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const EVENT_STATUS = {completed: "completed", failed: "failed", cancelled: "cancelled",
  started: "in_progress", retrying: "pending"};

class TreeModel {
  constructor(detail) {
    this.tree = detail;
    this.tasks = new Map();
    this.children = new Map();
    this.logs = new Map(); // task id -> [{time, message}]
    this.rootId = null;
    for (const task of detail.tasks) this.tasks.set(task.id, task);
    for (const task of detail.tasks) {
      if (task.parent_id === null || !this.tasks.has(task.parent_id)) { this.rootId ??= task.id; continue; }
      if (!this.children.has(task.parent_id)) this.children.set(task.parent_id, []);
      this.children.get(task.parent_id).push(task.id);
    }
    for (const ids of this.children.values()) {
      ids.sort((a, b) => (this.tasks.get(a).position ?? 0) - (this.tasks.get(b).position ?? 0));
    }
    this.expanded = new Set([this.rootId]);
    if (this.tasks.size <= EXPAND_ALL_UP_TO) for (const id of this.children.keys()) this.expanded.add(id);
    this.rows = [];
    this.layout();
    this.rollUp();
  }

  replace(detail) {
    this.tree = detail;
    for (const task of detail.tasks) this.tasks.set(task.id, task);
    this.rollUp();
  }

  isGroup(id) { return this.children.has(id); }

  layout() {
    const rows = [];
    const stack = [[this.rootId, 0]];
    while (stack.length) {
      const [id, depth] = stack.pop();
      rows.push([id, depth]);
      if (this.expanded.has(id)) {
        const kids = this.children.get(id) || [];
        for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], depth + 1]);
      }
    }
    this.rows = rows;
  }

  /** Groups' progress: the mean of their children's (a finished child counts in full). */
  rollUp() {
    const order = [];
    const stack = [this.rootId];
    while (stack.length) {
      const id = stack.pop();
      order.push(id);
      for (const kid of this.children.get(id) || []) stack.push(kid);
    }
    this.shown = new Map();
    for (let i = order.length - 1; i >= 0; i--) {
      const id = order[i];
      const task = this.tasks.get(id);
      const kids = this.children.get(id);
      let value = TERMINAL.has(task.status) ? 1 : task.progress || 0;
      if (kids && !TERMINAL.has(task.status)) {
        value = kids.reduce((sum, kid) => sum + this.shown.get(kid), 0) / kids.length;
      }
      this.shown.set(id, value);
    }
    let start = null, end = null;
    for (const task of this.tasks.values()) {
      for (const t of [ms(task.started_at), ...(task.attempts || []).map((a) => ms(a.started_at))]) {
        if (t !== null && (start === null || t < start)) start = t;
      }
      const stop = ms(task.completed_at);
      if (stop !== null && (end === null || stop > end)) end = stop;
    }
    this.span = [start, this.finished ? end : Math.max(end ?? 0, Date.now())];
  }

  get finished() { return TERMINAL.has(this.tree.status); }

  /** Apply one event of the stream; returns whether anything shown changed. */
  apply(type, event) {
    if (type === "end") {
      this.tree.status = event.status || this.tree.status;
      return true;
    }
    const task = this.tasks.get(event.task_id);
    if (!task) return false;
    const data = event.data || {};
    if (type === "log") {
      if (!this.logs.has(task.id)) this.logs.set(task.id, []);
      this.logs.get(task.id).push({time: event.time, message: data.message});
      return false;
    }
    if (ms(event.time) < ms(task.updated_at)) return false; // the snapshot is newer
    task.updated_at = event.time;
    if (data.status) task.status = data.status;
    else if (EVENT_STATUS[type]) task.status = EVENT_STATUS[type];
    if (typeof data.attempt === "number") task.attempt = data.attempt;
    if (type === "started") { task.started_at = event.time; task.completed_at = null; task.waiting = null; }
    if (type === "progress") { task.progress = data.progress; if (data.message) task.message = data.message; }
    if (type === "waiting") task.waiting = {key: data.signal, since: event.time, timeout: data.timeout};
    if (type === "resumed" || TERMINAL.has(task.status)) task.waiting = null;
    if (TERMINAL.has(task.status) && type !== "progress") { task.completed_at = event.time; task.error = data.error ?? task.error; }
    if (type === "retrying" || type === "started") {
      task.completed_at = null; task.result = null; task.traceback = null;
      if (type === "retrying") task.error = data.error ?? null;
    }
    if (this.tree.status === "queued" || this.tree.status === "pending") this.tree.status = "in_progress";
    return true;
  }

  waiting() {
    return [...this.tasks.values()].filter((t) => t.waiting && !TERMINAL.has(t.status));
  }

  counts() {
    const counts = {};
    for (const task of this.tasks.values()) {
      const status = shownStatus(task);
      counts[status] = (counts[status] || 0) + 1;
    }
    return counts;
  }
}

function timelineBar(model, task) {
  const [start, end] = model.span;
  const cell = h("span", {class: "timeline"});
  if (start === null || end <= start) return cell;
  const place = (from, to, cls, title) => {
    const left = ((from - start) / (end - start)) * 100;
    const width = Math.max(0.4, ((to - from) / (end - start)) * 100);
    cell.append(h("span", {class: `seg ${cls}`, title,
      style: `left:${left.toFixed(2)}%;width:${Math.min(width, 100 - left).toFixed(2)}%`}));
  };
  for (const attempt of task.attempts || []) {
    const from = ms(attempt.started_at), to = ms(attempt.ended_at);
    if (from !== null && to !== null && from !== ms(task.started_at)) {
      place(from, to, `s-${attempt.status}`, `attempt ${attempt.attempt}: ${attempt.status}`);
    }
  }
  const from = ms(task.started_at);
  if (from !== null) {
    const to = ms(task.completed_at) ?? Date.now();
    place(from, to, `s-${shownStatus(task)}`, `${when(task.started_at)} · ${duration((to - from) / 1000)}`);
  }
  return cell;
}

function taskRow(model, id, depth, selected, onToggle, onSelect) {
  const task = model.tasks.get(id);
  const status = shownStatus(task);
  const group = model.isGroup(id);
  const open = model.expanded.has(id);
  const toggle = group
    ? h("button", {type: "button", class: "toggle", "aria-expanded": String(open),
      "aria-label": `${open ? "collapse" : "expand"} ${task.key}`,
      onclick: (e) => { e.stopPropagation(); onToggle(id); }}, open ? "▾" : "▸")
    : h("span", {class: "toggle"});
  const kids = group ? model.children.get(id).length : 0;
  return h("div", {class: `row${selected ? " selected" : ""}${status === "waiting" ? " waits" : ""}`,
    role: "treeitem", "aria-level": depth + 1, "aria-selected": String(selected),
    dataset: {task: id, key: task.key, status}, tabindex: "0",
    onclick: () => onSelect(id), onkeydown: (e) => { if (e.key === "Enter") onSelect(id); }},
  h("span", {class: "key", style: `padding-left:${depth * 16}px`}, toggle,
    h("span", {class: `icon s-${status}`, title: status}, statusIcon(status)),
    h("span", {class: "label"}, task.key), group ? h("span", {class: "count"}, `${kids}`) : null),
  h("span", {class: "cell-progress"}, progressBar(model.shown.get(id))),
  h("span", {class: "attempts", title: "attempts"}, task.attempt > 1 ? `×${task.attempt}` : ""),
  h("span", {class: "dur"}, duration(elapsed(task.started_at, task.completed_at))),
  timelineBar(model, task));
}

function statusIcon(status) {
  return {pending: "○", in_progress: "◐", completed: "●", failed: "✕", cancelled: "⊘", waiting: "◇"}[status] || "?";
}

export function treeView(context, treeId, selectedTask) {
  const {view, notice, unauthorized} = context;
  const abort = new AbortController();
  let model = null;
  let selected = selectedTask || null;
  let dirty = false;
  let frame = 0;
  let detailPanel = null;

  const head = h("div", {class: "tree-head"});
  const waiting = h("div", {class: "waiting-list", id: "waiting"});
  const scroller = h("div", {class: "rows", role: "tree", id: "tasks", "aria-label": "tasks"});
  const spacer = h("div", {class: "spacer"});
  const windowEl = h("div", {class: "window"});
  scroller.append(spacer, windowEl);
  const detail = h("aside", {class: "detail", id: "detail"});
  const live = h("span", {class: "live", id: "live"}, "connecting…");
  clear(view, h("section", {class: "tree"}, head, waiting,
    h("div", {class: "split"},
      h("div", {class: "tasks"},
        h("div", {class: "columns", "aria-hidden": "true"},
          h("span", {class: "key"}, "Task"), h("span", {class: "cell-progress"}, "Progress"),
          h("span", {class: "attempts"}, "Tries"), h("span", {class: "dur"}, "Time"),
          h("span", {class: "timeline"}, "Timeline")),
        scroller),
      detail)));

  const act = async (label, call) => {
    try { await call(); notice(label, "info"); listen(); }
    catch (exc) {
      if (exc instanceof ApiError && exc.status === 401) { unauthorized(); return; }
      notice(`${label} failed: ${exc.message}`);
    }
  };

  function renderHead() {
    const tree = model.tree;
    const counts = model.counts();
    const finished = model.finished;
    clear(head,
      h("div", {class: "title"},
        h("a", {href: "#/trees", class: "back", "aria-label": "back to trees"}, "←"),
        h("h1", {}, tree.name || tree.id), h("span", {id: "tree-status"}, statusBadge(tree.status)), live),
      h("div", {class: "facts"},
        progressBar(model.shown.get(model.rootId)),
        h("span", {}, `${model.tasks.size} tasks`),
        Object.entries(counts).map(([s, n]) => h("span", {class: `count s-${s}`}, `${n} ${s.replace("_", " ")}`)),
        h("span", {}, tree.started_at ? `started ${when(tree.started_at)}` : "not started"),
        h("span", {}, duration(elapsed(tree.started_at, tree.finished_at))),
        tree.user_id ? h("span", {}, `user ${tree.user_id}`) : null),
      h("div", {class: "actions"},
        finished ? null : h("button", {type: "button", class: "danger", id: "cancel-tree",
          onclick: () => confirm("Cancel the whole tree?") &&
            act("Cancel requested", () => post(`/v1/tasks/${model.rootId}/cancel`, {reason: "cancelled from the dashboard"}))},
          "Cancel tree")));
  }

  function renderWaiting() {
    const tasks = model.waiting();
    waiting.hidden = tasks.length === 0;
    clear(waiting, tasks.length ? h("h2", {}, `Waiting for you (${tasks.length})`) : null,
      tasks.slice(0, 20).map((task) => h("div", {class: "waits-item", dataset: {task: task.id}},
        h("span", {class: "icon s-waiting"}, "◇"),
        h("a", {href: `#/trees/${treeId}/tasks/${task.id}`}, task.key),
        h("span", {}, ` waits for “${task.waiting.key}” since ${when(task.waiting.since)}`),
        h("button", {type: "button", class: "primary", onclick: () => select(task.id, true)}, "Review"))));
  }

  function renderRows() {
    const total = model.rows.length;
    spacer.style.height = `${total * ROW_PX}px`;
    const top = scroller.scrollTop;
    const height = scroller.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_PX) - OVERSCAN);
    const last = Math.min(total, Math.ceil((top + height) / ROW_PX) + OVERSCAN);
    const items = [];
    for (let i = first; i < last; i++) {
      const [id, depth] = model.rows[i];
      const row = taskRow(model, id, depth, id === selected, toggle, (tid) => select(tid, true));
      row.style.transform = `translateY(${i * ROW_PX}px)`;
      items.push(row);
    }
    windowEl.replaceChildren(...items);
  }

  function render() {
    frame = 0;
    if (!model) return;
    if (dirty) { model.rollUp(); dirty = false; }
    renderHead();
    renderWaiting();
    renderRows();
    if (selected && detailPanel) detailPanel.update(model.tasks.get(selected), model.logs.get(selected));
  }

  const schedule = () => { if (!frame) frame = requestAnimationFrame(render); };
  scroller.addEventListener("scroll", () => { if (!frame) frame = requestAnimationFrame(() => { frame = 0; renderRows(); }); });
  window.addEventListener("resize", schedule, {signal: abort.signal});

  function toggle(id) {
    if (model.expanded.has(id)) model.expanded.delete(id); else model.expanded.add(id);
    model.layout();
    renderRows();
  }

  function select(id, navigate) {
    selected = id;
    if (navigate) history.replaceState(null, "", `#/trees/${encodeURIComponent(treeId)}/tasks/${encodeURIComponent(id)}`);
    // open the groups around it, and scroll it into view
    let parent = model.tasks.get(id)?.parent_id;
    let opened = false;
    while (parent && model.tasks.has(parent)) {
      if (!model.expanded.has(parent)) { model.expanded.add(parent); opened = true; }
      parent = model.tasks.get(parent).parent_id;
    }
    if (opened) model.layout();
    const index = model.rows.findIndex(([rid]) => rid === id);
    if (index >= 0) {
      const y = index * ROW_PX;
      if (y < scroller.scrollTop || y > scroller.scrollTop + scroller.clientHeight - ROW_PX) {
        scroller.scrollTop = Math.max(0, y - scroller.clientHeight / 2);
      }
    }
    detailPanel = taskDetail(detail, {treeId, taskId: id, model, act, onClose: () => {
      selected = null; detailPanel = null; clear(detail);
      history.replaceState(null, "", `#/trees/${encodeURIComponent(treeId)}`);
      renderRows();
    }});
    renderRows();
  }

  async function start() {
    const began = performance.now();
    try {
      model = new TreeModel(await get(`/v1/trees/${encodeURIComponent(treeId)}`));
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 401) { unauthorized(); return; }
      clear(view, h("section", {class: "card"}, h("h1", {}, "Tree not found"),
        h("p", {}, exc.message), h("a", {href: "#/trees"}, "All trees")));
      return;
    }
    if (abort.signal.aborted) return;
    render();
    if (selected && model.tasks.has(selected)) select(selected, false);
    view.dataset.firstRenderMs = String(Math.round(performance.now() - began));
    view.dataset.ready = "true";
    listen();
  }

  let following = false;
  let lastSeq = 0;

  /** Follow the tree's events from the last one seen (again after a retry reopens it). */
  async function listen() {
    if (following || abort.signal.aborted) return;
    following = true;
    try {
      await follow(treeId, {
        after: lastSeq,
        signal: abort.signal,
        onEvent: (type, event) => {
          if (typeof event.seq === "number") lastSeq = Math.max(lastSeq, event.seq);
          if (model.apply(type, event)) dirty = true;
          if (type === "end") refresh();
          schedule();
        },
        onState: (state) => { live.textContent = state === "live" ? "● live" : state; live.dataset.state = state; },
      });
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 401) unauthorized();
      else if (!abort.signal.aborted) notice(`Live updates stopped: ${exc.message}`);
    } finally {
      following = false;
    }
  }

  async function refresh() {
    try {
      model.replace(await get(`/v1/trees/${encodeURIComponent(treeId)}`));
      dirty = true;
      schedule();
    } catch { /* the stream's view stands */ }
  }

  const ticker = setInterval(() => { if (model && !model.finished) { dirty = true; schedule(); } }, 1000);
  start();
  return () => { abort.abort(); clearInterval(ticker); if (frame) cancelAnimationFrame(frame); };
}
