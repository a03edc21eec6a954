// Submit a tree (a tree file's document, as JSON) and go to it.

import {ApiError, post} from "./api.js";
import {clear, h} from "./dom.js";

const EXAMPLE = {
  name: "hello",
  tasks: [
    {key: "pause", executor: "sleep", inputs: {seconds: 1}},
    {key: "approve", executor: "signal.wait", inputs: {key: "approval"}},
    {key: "done", executor: "noop", dependencies: ["pause", "approve"], inputs: {answer: "${approve.result.data}"}},
  ],
};

function problemList(problem) {
  const errors = problem.errors || [];
  if (!errors.length) return null;
  return h("ul", {class: "problems"}, errors.map((e) => h("li", {},
    [e.line ? `line ${e.line}` : null, e.task ? `task ${e.task}` : null, e.field ? `field ${e.field}` : null]
      .filter(Boolean).join(", "), errors.length ? ": " : "", e.message || e.detail || "")));
}

export function submitView({view, notice, unauthorized}) {
  const text = h("textarea", {id: "definition", name: "definition", rows: 18, spellcheck: "false",
    "aria-label": "tree document (JSON)"}, JSON.stringify(EXAMPLE, null, 2));
  const result = h("div", {class: "result", id: "submit-result"});
  const form = h("form", {class: "card submit", onsubmit: async (event) => {
    event.preventDefault();
    clear(result);
    try {
      const accepted = await post("/v1/trees", text.value);
      location.hash = `#/trees/${encodeURIComponent(accepted.id)}`;
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 401) { unauthorized(); return; }
      clear(result, h("p", {class: "error"}, exc.message), exc.problem ? problemList(exc.problem) : null);
    }
  }},
  h("h1", {}, "Submit a tree"),
  h("p", {}, "A tree file's document as JSON; it is checked, then queued for a worker."),
  text, result, h("button", {type: "submit", class: "primary", id: "submit"}, "Submit"));
  clear(view, form);
  return () => {};
}
