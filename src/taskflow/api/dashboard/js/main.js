// The dashboard's shell: sign-in with an API key, the hash router, notices.

import {ApiError, apiKey, get, setApiKey} from "./api.js";
import {clear, h} from "./dom.js";
import {executorsView} from "./executors.js";
import {schedulesView} from "./schedules.js";
import {submitView} from "./submit.js";
import {treeView} from "./tree.js";
import {treesView} from "./trees.js";

const view = document.getElementById("view");
let current = null; // the mounted view's cleanup function

export function notice(message, kind = "error") {
  const box = document.getElementById("notice");
  const item = h("div", {class: `notice ${kind}`}, message,
    h("button", {type: "button", class: "link", "aria-label": "dismiss",
      onclick: () => item.remove()}, "×"));
  box.append(item);
  if (kind !== "error") setTimeout(() => item.remove(), 4000);
}

function signIn(reason) {
  setApiKey(null);
  document.getElementById("who").textContent = "";
  document.getElementById("sign-out").hidden = true;
  const input = h("input", {type: "password", name: "api-key", id: "api-key", required: true,
    autocomplete: "off", placeholder: "tf_…", "aria-label": "API key"});
  const error = h("p", {class: "error", id: "sign-in-error"}, reason || "");
  const form = h("form", {class: "card sign-in", id: "sign-in", onsubmit: async (event) => {
    event.preventDefault();
    setApiKey(input.value.trim());
    try {
      await get("/v1/trees?limit=1");
      route();
    } catch (exc) {
      setApiKey(null);
      error.textContent = exc instanceof ApiError && exc.status === 401
        ? "That key is not valid (revoked, or mistyped)." : String(exc.message || exc);
    }
  }},
  h("h1", {}, "Sign in"),
  h("p", {}, "Paste an API key (", h("code", {}, "taskflow keys create --user NAME --name browser"),
    "). It is kept for this browser tab only."),
  h("label", {for: "api-key"}, "API key"), input, error,
  h("button", {type: "submit", class: "primary"}, "Sign in"));
  clear(view, form);
  input.focus();
}

function showUser() {
  const key = apiKey() || "";
  document.getElementById("who").textContent = key ? `key ${key.slice(0, 10)}…` : "";
  document.getElementById("sign-out").hidden = !key;
}

export function route() {
  if (current) { current(); current = null; }
  if (!apiKey()) { signIn(); return; }
  showUser();
  const parts = (location.hash.replace(/^#\/?/, "") || "trees").split("/").map(decodeURIComponent);
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.classList.toggle("active", link.dataset.nav === parts[0]);
  }
  const context = {
    view, notice,
    unauthorized: () => signIn("The key was refused: sign in again."),
  };
  let mounted;
  if (parts[0] === "trees" && parts[1]) mounted = treeView(context, parts[1], parts[3]);
  else if (parts[0] === "executors") mounted = executorsView(context, parts[1]);
  else if (parts[0] === "schedules") mounted = schedulesView(context, parts[1]);
  else if (parts[0] === "submit") mounted = submitView(context);
  else mounted = treesView(context);
  current = mounted || null;
}

document.getElementById("sign-out").addEventListener("click", () => { signIn(); });
window.addEventListener("hashchange", route);
route();
