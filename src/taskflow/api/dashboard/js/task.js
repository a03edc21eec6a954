// A task's details: status, inputs, result, error and traceback, attempts, logs, what it waits
// for — and what can be done to it: cancel, retry (with its dependents), approve a wait.

import {get, post} from "./api.js";
import {clear, duration, elapsed, h, ms, shownStatus, statusBadge, when} from "./dom.js";
import {jsonView} from "./json.js";

const TERMINAL = new Set(["completed", "failed", "cancelled"]);

function section(title, ...body) {
  return h("section", {class: "part"}, h("h3", {}, title), ...body);
}

function attemptsTable(attempts) {
  if (!attempts || !attempts.length) return null;
  return section("Attempts", h("table", {class: "list compact attempts-table"},
    h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, "Status"), h("th", {}, "Started"),
      h("th", {}, "Time"), h("th", {}, "Error"))),
    h("tbody", {}, attempts.map((a) => h("tr", {},
      h("td", {}, a.attempt), h("td", {}, statusBadge(a.status)), h("td", {}, when(a.started_at)),
      h("td", {}, duration(elapsed(a.started_at, a.ended_at))),
      h("td", {class: "error-cell"}, a.error_type ? `${a.error_type}: ${a.error || ""}` : a.error || ""))))));
}

function approveForm(task, act, draft) {
  // The text survives the panel's repaints (a live change while someone types).
  const data = h("textarea", {name: "data", rows: 4, id: "approve-data", "aria-label": "data to send",
    spellcheck: "false", oninput: () => { draft.text = data.value; }}, draft.text);
  const error = h("p", {class: "error"});
  return section(`Waiting for “${task.waiting.key}”`,
    h("p", {}, `Since ${when(task.waiting.since)}`,
      task.waiting.timeout ? `, for at most ${duration(task.waiting.timeout)}` : "", ". Send it data to go on:"),
    h("form", {class: "approve", onsubmit: (event) => {
      event.preventDefault();
      let value;
      try { value = data.value.trim() ? JSON.parse(data.value) : null; error.textContent = ""; }
      catch (exc) { error.textContent = `Not JSON: ${exc.message}`; return; }
      act(`Sent “${task.waiting.key}” to ${task.key}`,
        () => post(`/v1/tasks/${task.id}/notify`, {key: task.waiting.key, data: value}));
    }}, h("label", {for: "approve-data"}, "JSON data"), data, error,
    h("button", {type: "submit", class: "primary", id: "approve"}, "Approve")));
}

function actions(task, act) {
  const buttons = [];
  if (!TERMINAL.has(task.status)) {
    buttons.push(h("button", {type: "button", class: "danger", id: "cancel-task",
      onclick: () => act(`Cancel of ${task.key} requested`,
        () => post(`/v1/tasks/${task.id}/cancel`, {reason: "cancelled from the dashboard"}))}, "Cancel task"));
  }
  if (task.status === "failed" || task.status === "cancelled") {
    const dependents = h("input", {type: "checkbox", id: "with-dependents", checked: true});
    buttons.push(h("button", {type: "button", class: "primary", id: "retry-task",
      onclick: () => act(`${task.key} runs again`,
        () => post(`/v1/tasks/${task.id}/retry`, {with_dependents: dependents.checked}))}, "Retry"),
    h("label", {class: "inline"}, dependents, " with what depends on it"));
  }
  return buttons.length ? h("div", {class: "actions"}, buttons) : null;
}

/** Mount the details of one task in `panel`; returns {update(task, logs)} for live changes. */
export function taskDetail(panel, {treeId, taskId, model, act, onClose}) {
  let full = null; // GET /v1/tasks/{id}: the task with its result and traceback
  let shown = "";
  let fetching = false;
  const draft = {text: '{"approved": true}'};
  let refetchedFor = null; // the live change the last refetch was for

  async function fetchFull() {
    if (fetching) return;
    fetching = true;
    try { full = await get(`/v1/tasks/${encodeURIComponent(taskId)}`); }
    catch { /* keep what the tree gave */ }
    fetching = false;
    paint(model.tasks.get(taskId), model.logs.get(taskId), true);
  }

  function paint(live, logs, force = false) {
    const fresh = full && (!live || ms(full.updated_at) >= ms(live.updated_at));
    if (fresh && live) Object.assign(live, full); // the tree's rows show the same
    const task = fresh ? full : {...(full || {}), ...(live || {})};
    if (!fresh && live && TERMINAL.has(live.status) && refetchedFor !== live.updated_at) {
      refetchedFor = live.updated_at;
      fetchFull(); // its result, traceback and attempts are not in the events
    }
    const stamp = `${task.status}|${task.updated_at}|${task.waiting?.key}|${logs?.length}|${task.progress}`;
    if (!force && stamp === shown) return;
    shown = stamp;
    const status = shownStatus(task);
    clear(panel,
      h("div", {class: "detail-head"},
        h("h2", {}, task.key), statusBadge(status),
        h("button", {type: "button", class: "link close", "aria-label": "close", onclick: onClose}, "×")),
      h("dl", {class: "facts-list"},
        h("dt", {}, "Executor"), h("dd", {}, task.executor ? h("a", {href: `#/executors/${task.executor}`}, task.executor) : "group"),
        h("dt", {}, "Attempt"), h("dd", {}, String(task.attempt ?? 0)),
        h("dt", {}, "Started"), h("dd", {}, when(task.started_at) || "—"),
        h("dt", {}, "Time"), h("dd", {}, duration(elapsed(task.started_at, task.completed_at)) || "—"),
        task.message ? [h("dt", {}, "Message"), h("dd", {}, task.message)] : null,
        h("dt", {}, "Id"), h("dd", {class: "id"}, task.id)),
      actions(task, act),
      task.waiting && !TERMINAL.has(task.status) ? approveForm(task, act, draft) : null,
      task.error ? section("Error", h("p", {class: "error-text", id: "task-error"},
        task.error_type ? h("strong", {}, `${task.error_type}: `) : null, task.error)) : null,
      task.traceback ? section("Traceback", h("pre", {class: "traceback", id: "traceback"}, task.traceback)) : null,
      task.result !== undefined && task.result !== null ? section("Result", jsonView(task.result)) : null,
      task.inputs && Object.keys(task.inputs).length ? section("Inputs", jsonView(task.inputs)) : null,
      attemptsTable(task.attempts),
      logs && logs.length ? section(`Logs (${logs.length})`, h("pre", {class: "logs", id: "logs"},
        logs.slice(-500).map((line) => `${new Date(line.time).toLocaleTimeString()}  ${line.message}\n`).join(""))) : null);
  }

  paint(model.tasks.get(taskId), model.logs.get(taskId), true);
  fetchFull();
  return {update: (task, logs) => paint(task, logs)};
}
