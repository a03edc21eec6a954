// The HTTP API, with the key of this browser session in a header (never in a URL).

const KEY = "taskflow.apiKey";

export function apiKey() {
  return sessionStorage.getItem(KEY);
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

/** A response that is not 2xx, with the problem document the API sent. */
export class ApiError extends Error {
  constructor(status, problem) {
    const detail = problem && (problem.detail || problem.title);
    super(detail ? `${detail} (${status})` : `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

function headers(extra = {}) {
  const key = apiKey();
  return {Accept: "application/json", ...(key ? {Authorization: `Bearer ${key}`} : {}), ...extra};
}

async function problemOf(response) {
  const text = await response.text();
  try { return JSON.parse(text); } catch { return {detail: text.slice(0, 300)}; }
}

export async function request(method, path, body) {
  const init = {method, headers: headers()};
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  if (response.status === 204) return null;
  return response.json();
}

export const get = (path) => request("GET", path);
export const post = (path, body) => request("POST", path, body ?? {});

function parseFrame(block) {
  const frame = {id: null, event: "message", data: ""};
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "id") frame.id = value;
    else if (field === "event") frame.event = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length) return null;
  frame.data = JSON.parse(data.join("\n"));
  return frame;
}

/**
 * Follow a tree's events (Server-Sent Events read with fetch, so that the key goes in a header).
 * Calls onEvent(type, data) for each, from `after` on; reconnects with Last-Event-ID after a
 * dropped connection, so no event is missed; resolves after the "end" event or on abort.
 */
export async function follow(treeId, {after = 0, onEvent, onState, signal}) {
  let last = after;
  let delay = 500;
  while (!signal.aborted) {
    try {
      const response = await fetch(`/v1/trees/${encodeURIComponent(treeId)}/events/stream`, {
        headers: headers({Accept: "text/event-stream", "Last-Event-ID": String(last)}),
        signal,
      });
      if (!response.ok) {
        const error = new ApiError(response.status, await problemOf(response));
        if (response.status !== 429 && response.status < 500) throw error;
        onState?.("retrying", error);
      } else {
        onState?.("live");
        delay = 500;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const {value, done} = await reader.read();
          if (done) break;
          buffer += value.replace(/\r\n?/g, "\n");
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            const frame = parseFrame(buffer.slice(0, cut));
            buffer = buffer.slice(cut + 2);
            if (!frame) continue;
            if (frame.id !== null) last = Number(frame.id);
            onEvent(frame.event, frame.data);
            if (frame.event === "end") { onState?.("ended"); return; }
          }
        }
        onState?.("reconnecting");
      }
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError) throw error;
      onState?.("reconnecting", error);
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 5000);
  }
}
