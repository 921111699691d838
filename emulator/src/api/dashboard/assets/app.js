// The batch-emulator dashboard: reads the account through the Batch API's own handlers
// (`api/batch/<Batch path>`), the recent requests (`api/requests`), what the agent is doing
// on each node (`api/activity`), and task output as it is written (`api/stream/...`).
// Read-only, unless the emulator runs with `--dashboard-actions` (then node faults and a reset,
// through `api/control/...`). Everything shown is put in the page as text, never as markup.
"use strict";

const TOKEN_KEY = "batch-emulator-dashboard-token";
const POLL_MS = 1000;

{
  const params = new URLSearchParams(location.search);
  if (params.get("token")) {
    sessionStorage.setItem(TOKEN_KEY, params.get("token"));
    // The token stays out of the address bar (and out of anything copied from it).
    history.replaceState(null, "", location.pathname + location.hash);
  }
}
const token = () => sessionStorage.getItem(TOKEN_KEY) || "";
const seg = encodeURIComponent;

class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.message && (body.message.value || body.message))) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.code;
  }
}

async function fetchApi(path, headers = {}) {
  const r = await fetch("api/" + path, { headers: { "x-dashboard-token": token(), ...headers }, cache: "no-store" });
  if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null));
  return r;
}
const api = async (path) => (await fetchApi(path)).json();

/** What `api/info` said (whether the dashboard may act: `--dashboard-actions`). */
let info = { actions: false };

/** A control API action (only with `--dashboard-actions`), then a refresh. */
async function act(path, body = {}) {
  const status = document.getElementById("status");
  try {
    const r = await fetch("api/control/" + path, {
      method: "POST", cache: "no-store",
      headers: { "x-dashboard-token": token(), "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null));
    await refresh();
  } catch (e) {
    status.textContent = `Could not ${path.split("/").pop()}: ${e.message}`;
    status.classList.add("error-text");
  }
}
const button = (id, text, onclick) => h("button", { id, type: "button", onclick }, text);
const batch = (path) => api("batch" + path);

/** Builds an element: `h("a", {href: "#/x", class: "c", data: {state: "idle"}}, "text", child)`. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "data") for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = dv;
    else if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const time = (t) => (t ? new Date(t).toLocaleString() : "");
const link = (hash, text) => h("a", { href: "#/" + hash.map(seg).join("/") }, text);
const props = (pairs) =>
  h("dl", { class: "props" }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== "").flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
const table = (head, rows, cls = "") =>
  h("table", { class: cls }, h("thead", {}, h("tr", {}, head.map((c) => h("th", { class: /^(#|Active|Running|Completed|Succeeded|Failed|ms|Status|Size)/.test(c) ? "num" : "" }, c)))), h("tbody", {}, rows));
const json = (v) => h("pre", {}, JSON.stringify(v, null, 2));

/** Lists every page of a Batch list. */
async function listAll(path, max = 5000) {
  const out = [];
  let body = await batch(path);
  out.push(...body.value);
  while (body["odata.nextLink"] && out.length < max) {
    const next = new URL(body["odata.nextLink"]);
    body = await batch(next.pathname + next.search);
    out.push(...body.value);
  }
  return out;
}

// ------------------------------------------------------------------------------------ views

const STATES = ["idle", "running", "creating", "starting", "waitingforstarttask", "rebooting", "reimaging", "leavingpool", "offline", "deallocated", "preempted", "starttaskfailed", "unusable"];

function heatmap(poolId, nodes, activity) {
  const counts = {};
  for (const n of nodes) counts[n.state] = (counts[n.state] || 0) + 1;
  return [
    h("div", { class: "heatmap", data: { pool: poolId } },
      nodes.map((n) => h("a", {
        class: "node", href: "#/" + ["pools", poolId, "nodes", n.id].map(seg).join("/"),
        title: `${n.id}: ${n.state}${activity[n.id] ? " — " + activity[n.id] : ""}`,
        data: { state: n.state, nodeId: n.id },
      }))),
    h("div", { class: "legend" }, STATES.filter((s) => counts[s]).map((s) => h("span", { data: { state: s } }, `${s} ${counts[s]}`))),
  ];
}

const poolSummary = (p) =>
  `${p.vmSize} · dedicated ${p.currentDedicatedNodes ?? 0}/${p.targetDedicatedNodes ?? 0} · Spot ${p.currentLowPriorityNodes ?? 0}/${p.targetLowPriorityNodes ?? 0} · ${p.taskSlotsPerNode ?? 1} slots per node`;

const views = {
  async pools() {
    const [pools, activity] = await Promise.all([listAll("/pools"), api("activity")]);
    const nodes = await Promise.all(pools.map((p) => listAll(`/pools/${seg(p.id)}/nodes`)));
    return [
      h("h2", {}, "Pools ", info.actions ? button("reset", "Reset the account", () => confirm("Delete every pool, job and job schedule?") && act("reset")) : null),
      pools.length ? null : h("p", { class: "muted" }, "No pools yet."),
      pools.map((p, i) => h("section", { class: "card", data: { pool: p.id } },
        h("div", { class: "head" }, h("strong", {}, link(["pools", p.id], p.id)), h("span", { class: "pill" }, p.state), h("span", { class: "pill" }, p.allocationState), h("span", { class: "muted" }, poolSummary(p))),
        heatmap(p.id, nodes[i], activity))),
    ];
  },

  async pool(poolId) {
    const [p, nodes, activity] = await Promise.all([batch(`/pools/${seg(poolId)}`), listAll(`/pools/${seg(poolId)}/nodes`), api("activity")]);
    return [
      h("h2", {}, "Pool ", p.id),
      props([["State", p.state], ["Allocation", p.allocationState], ["Size", poolSummary(p)], ["Autoscale", p.enableAutoScale ? p.autoScaleFormula : "off"], ["Created", time(p.creationTime)]]),
      p.resizeErrors && p.resizeErrors.length ? h("div", { class: "failure" }, json(p.resizeErrors)) : null,
      h("section", { class: "card" }, heatmap(p.id, nodes, activity)),
      table(["Node", "State", "Scheduling", "IP", "Running", "Run", "Succeeded", "Activity"], nodes.map((n) => h("tr", { data: { node: n.id } },
        h("td", {}, link(["pools", poolId, "nodes", n.id], n.id)), h("td", {}, n.state), h("td", {}, n.schedulingState), h("td", {}, n.ipAddress),
        h("td", { class: "num" }, n.runningTasksCount ?? 0), h("td", { class: "num" }, n.totalTasksRun ?? 0), h("td", { class: "num" }, n.totalTasksSucceeded ?? 0),
        h("td", { class: "activity" }, activity[n.id] || "")))),
    ];
  },

  async node(poolId, nodeId, ...filePath) {
    const base = `/pools/${seg(poolId)}/nodes/${seg(nodeId)}`;
    const [n, activity, files] = await Promise.all([batch(base), api("activity"), listAll(`${base}/files?recursive=true`).catch(() => [])]);
    const out = [
      h("h2", {}, "Node ", n.id, " ", h("span", { class: "pill", data: { state: n.state } }, n.state)),
      activity[n.id] ? h("p", { class: "activity" }, activity[n.id]) : null,
      info.actions ? h("p", { class: "actions" },
        !n.isDedicated && !["preempted", "leavingpool"].includes(n.state) ? button("preempt", "Preempt", () => act(`pools/${seg(poolId)}/nodes/${seg(nodeId)}/preempt`)) : null,
        n.state === "preempted" ? button("recover", "Recover", () => act(`pools/${seg(poolId)}/nodes/${seg(nodeId)}/recover`)) : null,
        !["unusable", "preempted", "leavingpool", "deallocated"].includes(n.state) ? button("make-unusable", "Make unusable", () => act(`pools/${seg(poolId)}/nodes/${seg(nodeId)}/unusable`)) : null) : null,
      props([["Pool", link(["pools", poolId], poolId)], ["Scheduling", n.schedulingState], ["IP", n.ipAddress], ["Dedicated", String(n.isDedicated)], ["Allocated", time(n.allocationTime)], ["Last boot", time(n.lastBootTime)], ["Tasks run", n.totalTasksRun], ["Running tasks", n.runningTasksCount]]),
      n.errors && n.errors.length ? h("div", { class: "failure" }, h("h3", {}, "Errors"), n.errors.map((e) => h("p", {}, h("strong", {}, e.code, ": "), e.message)), json(n.errors)) : null,
      n.startTaskInfo ? [h("h3", {}, "Start task"), json(n.startTaskInfo)] : null,
      h("h3", {}, "Recent tasks"),
      n.recentTasks && n.recentTasks.length
        ? table(["Task", "State", "Exit code"], n.recentTasks.map((t) => h("tr", {}, h("td", {}, link(["jobs", t.jobId, "tasks", t.taskId], `${t.jobId}/${t.taskId}`)), h("td", {}, t.taskState), h("td", {}, t.executionInfo ? t.executionInfo.exitCode ?? "" : ""))))
        : h("p", { class: "muted" }, "None."),
      h("h3", {}, "Files"),
    ];
    const shown = filePath.join("/");
    if (shown) {
      const r = await fetchApi(`batch${base}/files/${seg(shown)}`, { "ocp-range": "bytes=0-1048575" }).catch((e) => e);
      out.push(h("p", {}, h("strong", {}, shown), " ", link(["pools", poolId, "nodes", nodeId], "(close)")));
      out.push(r instanceof Error ? h("p", { class: "error-text" }, r.message) : h("pre", { class: "file-content" }, await r.text()));
    }
    out.push(table(["Name", "Size", "Modified"], files.filter((f) => !f.isDirectory).map((f) => h("tr", { data: { file: f.name } },
      h("td", {}, link(["pools", poolId, "nodes", nodeId, ...f.name.split("/")], f.name)), h("td", { class: "num" }, f.properties ? f.properties.contentLength : ""), h("td", {}, f.properties ? time(f.properties.lastModified) : ""))), "files"));
    return out;
  },

  async jobs() {
    const jobs = await listAll("/jobs" + stateFilter("jobs"));
    const counts = await Promise.all(jobs.map((j) => batch(`/jobs/${seg(j.id)}/taskcounts`).catch(() => null)));
    return [
      h("h2", {}, "Jobs ", stateSelect("jobs", ["active", "disabling", "disabled", "enabling", "terminating", "completed", "deleting"])),
      jobs.length ? table(["Job", "State", "Pool", "Priority", "Active", "Running", "Completed", "Succeeded", "Failed", "Created"], jobs.map((j, i) => {
        const c = (counts[i] && counts[i].taskCounts) || {};
        return h("tr", { data: { job: j.id } }, h("td", {}, link(["jobs", j.id], j.id)), h("td", {}, j.state), h("td", {}, j.executionInfo && j.executionInfo.poolId ? link(["pools", j.executionInfo.poolId], j.executionInfo.poolId) : (j.poolInfo && j.poolInfo.poolId) || "auto pool"),
          h("td", { class: "num" }, j.priority ?? 0), ["active", "running", "completed", "succeeded", "failed"].map((k) => h("td", { class: "num" }, c[k] ?? "")), h("td", {}, time(j.creationTime)));
      })) : h("p", { class: "muted" }, "No jobs here."),
    ];
  },

  async job(jobId) {
    const j = await batch(`/jobs/${seg(jobId)}`);
    const [tasks, counts] = await Promise.all([listAll(`/jobs/${seg(jobId)}/tasks${stateFilter("tasks:" + jobId)}`, 2000), batch(`/jobs/${seg(jobId)}/taskcounts`)]);
    const select = stateSelect("tasks:" + jobId, ["active", "preparing", "running", "completed"], "task-state");
    const c = counts.taskCounts || {};
    return [
      h("h2", {}, "Job ", j.id, " ", h("span", { class: "pill" }, j.state)),
      props([["Pool", j.executionInfo && j.executionInfo.poolId], ["Priority", j.priority], ["Created", time(j.creationTime)], ["Tasks", `${c.active} active, ${c.running} running, ${c.completed} completed (${c.succeeded} succeeded, ${c.failed} failed)`], ["Terminate reason", j.executionInfo && j.executionInfo.terminateReason]]),
      j.executionInfo && j.executionInfo.schedulingError ? h("div", { class: "failure" }, json(j.executionInfo.schedulingError)) : null,
      h("h3", {}, "Tasks ", select),
      table(["Task", "State", "Exit code", "Node", "Retries", "Command line"], tasks.map((t) => {
        const e = t.executionInfo || {};
        return h("tr", { data: { task: t.id } }, h("td", {}, link(["jobs", jobId, "tasks", t.id], t.id)), h("td", {}, t.state), h("td", { class: e.failureInfo ? "error-text" : "" }, e.exitCode ?? (e.failureInfo ? e.failureInfo.code : "")),
          h("td", {}, t.nodeInfo ? link(["pools", t.nodeInfo.poolId, "nodes", t.nodeInfo.nodeId], t.nodeInfo.nodeId) : ""), h("td", { class: "num" }, e.retryCount ?? 0), h("td", {}, t.commandLine));
      })),
    ];
  },

  async task(jobId, taskId) {
    const t = await batch(`/jobs/${seg(jobId)}/tasks/${seg(taskId)}`);
    const e = t.executionInfo || {};
    return [
      h("h2", {}, "Task ", link(["jobs", jobId], jobId), " / ", t.id, " ", h("span", { class: "pill", id: "task-state-pill" }, t.state)),
      props([["Command line", t.commandLine], ["Node", t.nodeInfo ? link(["pools", t.nodeInfo.poolId, "nodes", t.nodeInfo.nodeId], t.nodeInfo.nodeId) : "not placed"], ["Exit code", e.exitCode], ["Result", e.result], ["Started", time(e.startTime)], ["Ended", time(e.endTime)], ["Retries", e.retryCount], ["Requeues", e.requeueCount]]),
      e.failureInfo ? h("div", { class: "failure", id: "failure-info" }, h("h3", {}, "Failure"), h("p", {}, h("strong", {}, e.failureInfo.code, ": "), e.failureInfo.message), json(e.failureInfo)) : null,
      h("h3", {}, "executionInfo"), json(e),
      h("details", { id: "all-properties" }, h("summary", {}, "All properties"), json(t)),
    ];
  },

  async schedules() {
    const schedules = await listAll("/jobschedules" + stateFilter("schedules"));
    const recent = (s) => s.executionInfo && s.executionInfo.recentJob && s.executionInfo.recentJob.id;
    const counts = await Promise.all(schedules.map((s) => (recent(s) ? batch(`/jobs/${seg(recent(s))}/taskcounts`).catch(() => null) : null)));
    return [
      h("h2", {}, "Job schedules ", stateSelect("schedules", ["active", "disabled", "terminating", "completed", "deleting"])),
      schedules.length ? table(["Schedule", "State", "Recurrence", "Next run", "Recent job", "Active", "Running", "Completed", "Failed"], schedules.map((s, i) => {
        const c = (counts[i] && counts[i].taskCounts) || {};
        return h("tr", { data: { schedule: s.id } },
          h("td", {}, s.id), h("td", {}, s.state), h("td", {}, (s.schedule && s.schedule.recurrenceInterval) || "once"), h("td", {}, time(s.executionInfo && s.executionInfo.nextRunTime)),
          h("td", {}, recent(s) ? link(["jobs", recent(s)], recent(s)) : ""), ["active", "running", "completed", "failed"].map((k) => h("td", { class: "num" }, c[k] ?? "")));
      })) : h("p", { class: "muted" }, "No job schedules here."),
    ];
  },

  async requests() {
    const { value } = await api("requests");
    return [
      h("h2", {}, "Recent requests"),
      table(["Time", "Method", "Path", "Operation", "Status", "ms", "Error", "Request id"], value.map((r) => h("tr", { data: { operation: r.operation, status: r.status } },
        h("td", {}, new Date(r.time).toLocaleTimeString()), h("td", {}, r.method), h("td", {}, r.path), h("td", {}, r.operation),
        h("td", { class: "num" + (r.status >= 400 ? " error-text" : "") }, r.status), h("td", { class: "num" }, r.latencyMs.toFixed(1)), h("td", {}, r.errorCode), h("td", { class: "muted" }, r.requestId)))),
    ];
  },
};

/** The state each list is filtered by (by list), kept while the page is open. */
const filters = new Map();
const stateFilter = (key) => (filters.get(key) ? `?$filter=${seg(`state eq '${filters.get(key)}'`)}` : "");
function stateSelect(key, states, id = `${key.split(":")[0]}-state`) {
  const state = filters.get(key) || "";
  return h("select", { id, onchange: (e) => { filters.set(key, e.target.value); refresh(); } },
    ["", ...states].map((s) => h("option", { value: s, selected: s === state ? "selected" : null }, s || "all states")));
}

// ----------------------------------------------------------------------- live task output

/** Streams a task file into `pre` as it is written; follows a new attempt; stops when the
 * task completes or the view changes (`alive()` false). */
async function follow(jobId, taskId, name, pre, alive) {
  while (alive()) {
    let r;
    try {
      r = await fetchApi(`stream/jobs/${seg(jobId)}/tasks/${seg(taskId)}/${name}`);
    } catch (e) {
      // Not placed yet, or no file yet: look again shortly.
      pre.dataset.streaming = "waiting";
      await new Promise((res) => setTimeout(res, 500));
      continue;
    }
    pre.textContent = "";
    pre.dataset.streaming = "live";
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (!alive()) { reader.cancel(); return; }
      if (done) break;
      pre.append(document.createTextNode(decoder.decode(value, { stream: true })));
      pre.scrollTop = pre.scrollHeight;
    }
    pre.dataset.streaming = "ended";
    const t = await batch(`/jobs/${seg(jobId)}/tasks/${seg(taskId)}`).catch(() => null);
    if (!t || t.state === "completed") return;
    await new Promise((res) => setTimeout(res, 500));
  }
}

// ------------------------------------------------------------------------------- routing

let generation = 0;
let current = null;

function parseHash() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (!parts.length || parts[0] === "pools") {
    if (parts.length >= 3 && parts[2] === "nodes") return ["node", parts[1], ...parts.slice(3)];
    return parts.length >= 2 ? ["pool", parts[1]] : ["pools"];
  }
  if (parts[0] === "jobs") {
    if (parts.length >= 4 && parts[2] === "tasks") return ["task", parts[1], parts[3]];
    return parts.length >= 2 ? ["job", parts[1]] : ["jobs"];
  }
  return [parts[0]];
}

async function refresh() {
  if (!current) return;
  const { name, args, live } = current;
  const status = document.getElementById("status");
  try {
    const content = await views[name](...args);
    if (current && current.live === live) {
      // Keep what the reader opened open, and the filter menus themselves (one being used is
      // not swapped out under the pointer).
      const open = [...live.querySelectorAll("details[open]")].map((d) => d.id);
      const selects = new Map([...live.querySelectorAll("select[id]")].map((el) => [el.id, el]));
      const nodes = content.flat(2).filter(Boolean);
      for (const n of nodes) {
        for (const fresh of n.querySelectorAll ? n.querySelectorAll("select[id]") : []) {
          const kept = selects.get(fresh.id);
          if (kept) fresh.replaceWith(kept);
        }
      }
      live.replaceChildren(...nodes);
      for (const id of open) { const d = document.getElementById(id); if (d) d.open = true; }
      status.textContent = `Updated ${new Date().toLocaleTimeString()}`;
      status.classList.remove("error-text");
    }
  } catch (e) {
    status.textContent = e.status === 401 ? "The dashboard token is missing or wrong: open the link the emulator printed when it started." : `Cannot read: ${e.message}`;
    status.classList.add("error-text");
    if (e.status === 404 && current && current.live === live) live.replaceChildren(h("p", { class: "error-text" }, e.message));
  }
}

function route() {
  const [name, ...args] = parseHash();
  const view = document.getElementById("view");
  const gen = ++generation;
  if (!views[name]) {
    view.replaceChildren(h("p", {}, "No such page."));
    current = null;
    return;
  }
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", name.startsWith(a.dataset.nav.replace(/s$/, "")));
  const live = h("div", { id: "live" });
  view.replaceChildren(live);
  current = { name, args, live };
  if (name === "task") {
    const alive = () => gen === generation;
    const out = h("pre", { id: "stdout", class: "stream" });
    const err = h("pre", { id: "stderr", class: "stream" });
    view.append(h("div", { class: "streams" }, h("div", {}, h("h3", {}, "stdout.txt"), out), h("div", {}, h("h3", {}, "stderr.txt"), err)));
    follow(args[0], args[1], "stdout.txt", out, alive);
    follow(args[0], args[1], "stderr.txt", err, alive);
  }
  refresh();
}

async function loop() {
  for (;;) {
    await new Promise((res) => setTimeout(res, POLL_MS));
    await refresh();
  }
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", async () => {
  try {
    info = await api("info");
    document.getElementById("account").textContent = `account ${info.account} · ${info.url} · v${info.version}`;
  } catch (e) {
    document.getElementById("account").textContent = "";
  }
  route();
  loop();
});
