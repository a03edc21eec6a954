// Schedules: when each fires next, paused or not, what its latest fires started; pause,
// unpause, trigger now.

import {ApiError, get, post} from "./api.js";
import {clear, duration, h, when} from "./dom.js";

const REFRESH_MS = 5000;

function cadence(spec) {
  const every = spec.every !== undefined ? `every ${duration(spec.every)}` : `cron ${spec.cron}`;
  return spec.timezone && spec.timezone !== "UTC" ? `${every} (${spec.timezone})` : every;
}

function fires(schedule) {
  if (!schedule.fires || !schedule.fires.length) return h("p", {class: "empty"}, "It has not fired yet.");
  return h("table", {class: "list compact", id: "fires"},
    h("thead", {}, h("tr", {}, h("th", {}, "Due"), h("th", {}, "Kind"), h("th", {}, "Outcome"), h("th", {}, "Tree"))),
    h("tbody", {}, schedule.fires.map((fire) => h("tr", {},
      h("td", {}, when(fire.nominal)), h("td", {}, fire.kind),
      h("td", {}, fire.status, fire.reason ? ` — ${fire.reason}` : ""),
      h("td", {}, fire.tree_id ? h("a", {href: `#/trees/${encodeURIComponent(fire.tree_id)}`}, fire.tree_id.slice(0, 8)) : "—")))));
}

export function schedulesView({view, notice, unauthorized}, focus) {
  let alive = true;
  let timer = null;
  const body = h("tbody");
  const detail = h("div", {class: "schedule-detail", id: "schedule-detail"});
  const empty = h("p", {class: "empty", hidden: true}, "No schedules. Add one with ",
    h("code", {}, "taskflow schedules add FILE"), " (a tree file with a schedule section).");

  const act = async (label, call) => {
    try { await call(); notice(label, "info"); load(); }
    catch (exc) {
      if (exc instanceof ApiError && exc.status === 401) unauthorized();
      else notice(`${label} failed: ${exc.message}`);
    }
  };

  function row(schedule) {
    const paused = schedule.state === "paused";
    const path = `/v1/schedules/${encodeURIComponent(schedule.id)}`;
    return h("tr", {dataset: {schedule: schedule.id, state: schedule.state}},
      h("td", {class: "name"}, h("a", {href: `#/schedules/${encodeURIComponent(schedule.id)}`}, schedule.name)),
      h("td", {}, h("span", {class: `status ${paused ? "s-cancelled" : "s-completed"}`}, paused ? "paused" : "active")),
      h("td", {}, cadence(schedule.spec)),
      h("td", {class: "time"}, paused ? "—" : when(schedule.next_fire_at)),
      h("td", {class: "user"}, schedule.user_id || "—"),
      h("td", {class: "actions"},
        h("button", {type: "button", class: "pause", onclick: () => act(`${schedule.name} ${paused ? "unpaused" : "paused"}`,
          () => post(`${path}/${paused ? "unpause" : "pause"}`))}, paused ? "Unpause" : "Pause"),
        h("button", {type: "button", class: "trigger", onclick: () => act(`${schedule.name} started now`,
          () => post(`${path}/trigger`))}, "Run now")));
  }

  async function showDetail() {
    if (!focus) { clear(detail); return; }
    try {
      const schedule = await get(`/v1/schedules/${encodeURIComponent(focus)}`);
      if (!alive) return;
      clear(detail, h("section", {class: "card"},
        h("h2", {}, schedule.name), h("p", {}, cadence(schedule.spec), " · ", schedule.state,
          schedule.missed ? ` · ${schedule.missed} missed` : ""),
        h("h3", {}, schedule.state === "paused" ? "Next fires, once unpaused" : "Next fires"),
        schedule.next_fires.length
          ? h("ul", {id: "next-fires"}, schedule.next_fires.map((f) => h("li", {}, when(f.nominal))))
          : h("p", {class: "empty"}, "None (paused, or past its end)."),
        h("h3", {}, "Latest fires"), fires(schedule)));
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 401) unauthorized();
      else clear(detail, h("p", {class: "error"}, exc.message));
    }
  }

  async function load() {
    clearTimeout(timer);
    try {
      const page = await get("/v1/schedules");
      if (!alive) return;
      clear(body, page.items.map(row));
      empty.hidden = page.items.length > 0;
      await showDetail();
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 401) { unauthorized(); return; }
      notice(`Could not list schedules: ${exc.message}`);
    }
    if (alive) timer = setTimeout(load, REFRESH_MS);
  }

  clear(view, h("section", {class: "schedules"},
    h("div", {class: "toolbar"}, h("h1", {}, "Schedules")),
    h("div", {class: "table-wrap"}, h("table", {class: "list", id: "schedules"},
      h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "State"), h("th", {}, "When"),
        h("th", {class: "time"}, "Next"), h("th", {class: "user"}, "User"), h("th", {}, ""))),
      body)),
    empty, detail));
  load();
  return () => { alive = false; clearTimeout(timer); };
}
