// The RideShare DBaaS dashboard (docs/operations.md, "Dashboard"). Plain
// JavaScript, no library: every second it asks the orchestrator for the
// workers, the status, the event timeline and /metrics, and draws them.
// A route this orchestrator does not have (404) is shown as "not available"
// and asked again only now and then; every other failure is shown in the
// page, never thrown.
"use strict";

(() => {
  const TOKEN_KEY = "rideshare_admin_token";
  const POLL_MS = 1000;
  const WINDOW_MS = 5 * 60 * 1000; // the charts' time span, at most
  const MIN_SPAN_MS = 30 * 1000; // the charts' time span, at least (right after the page opens)
  const MISSING_RETRY_MS = 15000; // a route that answered 404 is asked again this late
  const EVENTS_SHOWN = 50;
  const INFO_MS = 15000; // how long a message that is not an error stays
  const ROUTES = {
    workers: "/api/v1/workers",
    status: "/api/v1/status",
    events: "/api/v1/events",
    metrics: "/metrics",
  };
  // The Prometheus text parser and the read/write totals: metrics.js.
  const { parseMetrics, totals } = window.rideshareMetrics;

  const $ = (id) => document.getElementById(id);

  // ---- talking to the orchestrator --------------------------------------

  class HTTPError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function storedToken() {
    try {
      return localStorage.getItem(TOKEN_KEY) || "";
    } catch (e) {
      return ""; // storage disabled: work without a token
    }
  }

  // call sends one request with the admin token, if any, and returns the
  // body's text; a non-2xx answer is an HTTPError carrying its JSON error.
  async function call(method, path, body) {
    const headers = {};
    const token = storedToken();
    if (token) headers.Authorization = "Bearer " + token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let resp;
    try {
      resp = await fetch(path, {
        method, headers, cache: "no-store",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new HTTPError(0, "cannot reach the orchestrator (" + e.message + ")");
    }
    const text = await resp.text();
    if (!resp.ok) {
      let msg = text.trim() || resp.statusText;
      try {
        msg = JSON.parse(text).error || msg;
      } catch (e) { /* not JSON: keep the text */ }
      throw new HTTPError(resp.status, msg);
    }
    return text;
  }

  // ---- messages in the page ---------------------------------------------

  const messages = new Map(); // key → {kind, text}
  const missingUntil = {}; // source → time before which it is not asked again

  function say(key, kind, text) {
    const m = { kind, text };
    messages.set(key, m);
    renderMessages();
    if (kind === "info") {
      setTimeout(() => {
        if (messages.get(key) === m) unsay(key);
      }, INFO_MS);
    }
  }

  function unsay(key) {
    if (messages.delete(key)) renderMessages();
  }

  function renderMessages() {
    const box = $("messages");
    box.replaceChildren(...[...messages.values()].map((m) => el("p", m.text, m.kind)));
  }

  // failed reports a failure in the page under key: a 401 as the request
  // for the token, anything else under the label (default: the key).
  function failed(key, err, label = key) {
    if (err instanceof HTTPError && err.status === 401) {
      unsay(key);
      say("auth", "error", "The orchestrator asks for an admin token (401: " + err.message +
        "). Enter it in \"Admin token\" above and press Save.");
      return;
    }
    say(key, "error", label + ": " + (err.status ? err.status + " " : "") + err.message);
  }

  function succeeded(source) {
    unsay(source);
    if (source === "workers") unsay("auth");
  }

  // poll runs one source's fetch-and-draw unless it is known missing. A
  // source with onMissing is optional: its 404 is drawn by onMissing and
  // the source is left alone for MISSING_RETRY_MS.
  async function poll(source, draw, onMissing) {
    if (missingUntil[source] > Date.now()) return;
    try {
      draw(await call("GET", ROUTES[source]));
      succeeded(source);
    } catch (err) {
      if (err instanceof HTTPError && err.status === 404 && onMissing) {
        missingUntil[source] = Date.now() + MISSING_RETRY_MS;
        unsay(source);
        onMissing();
        return;
      }
      failed(source, err);
    }
  }

  // ---- small DOM helpers ------------------------------------------------

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function row(cells) {
    const tr = document.createElement("tr");
    for (const c of cells) tr.append(c instanceof Node ? c : el("td", c));
    return tr;
  }

  function duration(sec) {
    sec = Math.max(0, Math.floor(sec));
    if (sec < 60) return sec + "s";
    const m = Math.floor(sec / 60), s = sec % 60;
    if (m < 60) return m + "m " + String(s).padStart(2, "0") + "s";
    const h = Math.floor(m / 60);
    if (h < 48) return h + "h " + String(m % 60).padStart(2, "0") + "m";
    return Math.floor(h / 24) + "d " + (h % 24) + "h";
  }

  function number(v, digits) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    return v.toLocaleString(undefined, { maximumFractionDigits: digits });
  }

  // ---- workers and status -----------------------------------------------

  let workers = [];
  let status = null; // null until /api/v1/status answers

  function drawWorkers(text) {
    workers = JSON.parse(text) || [];
    const now = Date.now();
    const rows = workers.map((w) => {
      const tr = row([
        w.id,
        el("td", w.role, "role-" + w.role),
        el("td", w.pid, "num"),
        el("td", number(w.applied_seq), "num"),
        el("td", number(w.lag), "num"),
        stateCell(w),
        el("td", uptime(w.started_at, now), "num"),
      ]);
      tr.dataset.pid = w.pid;
      tr.dataset.id = w.id;
      tr.dataset.role = w.role;
      return tr;
    });
    $("workers").tBodies[0].replaceChildren(...rows);
    const slaves = workers.filter((w) => w.role !== "master").length;
    $("worker-count").textContent = (workers.length - slaves) + " master + " + slaves + (slaves === 1 ? " slave" : " slaves");
    drawCluster();
  }

  function uptime(startedAt, now) {
    const t = Date.parse(startedAt);
    return isNaN(t) || t <= 0 ? "–" : duration((now - t) / 1000);
  }

  function stateCell(w) {
    if (w.draining) return el("td", "draining", "state-draining");
    if (w.ready) return el("td", "ready", "state-ready");
    const c = w.catching_up;
    if (!c) return el("td", "starting", "state-catching");
    const td = el("td", "catching up: " + c.phase.replace(/_/g, " ") + " ", "state-catching");
    if (c.total > 0) {
      const bar = el("progress");
      bar.max = c.total;
      bar.value = Math.min(c.done, c.total);
      td.append(bar, " " + number(c.done) + " / " + number(c.total) + " " + c.unit);
    }
    if (c.eta_seconds > 0) td.append(", " + duration(c.eta_seconds) + " left");
    return td;
  }

  function drawStatus(text) {
    status = JSON.parse(text);
    drawCluster();
  }

  // drawCluster fills the cards from the status when there is one, else
  // from the worker list (which has no epoch).
  function drawCluster() {
    const master = workers.find((w) => w.role === "master");
    if (status) {
      $("master").textContent = status.master || "none";
      $("epoch").textContent = number(status.epoch);
      $("master-seq").textContent = number(status.master_seq);
      $("epoch").title = "";
      return;
    }
    $("master").textContent = master ? master.id + " (pid " + master.pid + ")" : "none";
    $("epoch").textContent = "n/a";
    $("epoch").title = "this orchestrator has no " + ROUTES.status;
    $("master-seq").textContent = master ? number(master.applied_seq) : "–";
  }

  // ---- events -----------------------------------------------------------

  // when is a time of today as a time of day, of another day with its date.
  function when(d) {
    return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
  }

  function drawEvents(text) {
    const events = (JSON.parse(text) || []).slice(-EVENTS_SHOWN).reverse();
    $("events").tBodies[0].replaceChildren(...events.map((e) => row([
      when(new Date(e.time)),
      el("td", e.kind, "kind-" + e.kind),
      e.worker || "",
      e.pid || "",
      e.epoch || "",
      e.duration_ms ? number(e.duration_ms, 1) + " ms" : "",
      e.detail || (e.kind === "scale" ? e.reads + " reads → " + e.slaves + " slaves" : ""),
    ])));
    $("events-note").textContent = events.length ? "" : "No events yet.";
  }

  // ---- metrics ----------------------------------------------------------

  let history = []; // {t, totals}, oldest first, over WINDOW_MS
  let metricsNote = "no data yet";

  function drawMetrics(text) {
    const now = Date.now();
    history.push({ t: now, totals: totals(parseMetrics(text)) });
    history = history.filter((h) => h.t >= now - WINDOW_MS);
    metricsNote = "no data yet";
    drawCharts();
  }

  function metricsMissing() {
    history = [];
    metricsNote = "no data (" + ROUTES.metrics + " answered 404)";
    drawCharts();
  }

  // series derives, between consecutive scrapes, a value per point: null
  // where it cannot be known (no request for a latency, a counter reset).
  function series(kind, value) {
    const pts = [];
    for (let i = 1; i < history.length; i++) {
      const a = history[i - 1].totals[kind], b = history[i].totals[kind];
      const dt = (history[i].t - history[i - 1].t) / 1000;
      pts.push({ t: history[i].t, v: value(a, b, dt) });
    }
    return pts;
  }

  const rate = (a, b, dt) => {
    const d = b.requests - a.requests;
    return d >= 0 && dt > 0 ? d / dt : null;
  };
  const latencyMS = (a, b) => {
    const n = b.count - a.count;
    return n > 0 ? ((b.sum - a.sum) / n) * 1000 : null;
  };

  function drawCharts() {
    $("window-minutes").textContent = WINDOW_MS / 60000;
    const charts = [
      ["read-rate", series("read", rate), "/s"],
      ["write-rate", series("write", rate), "/s"],
      ["read-latency", series("read", latencyMS), " ms"],
      ["write-latency", series("write", latencyMS), " ms"],
    ];
    for (const [id, pts, unit] of charts) {
      const known = pts.filter((p) => p.v !== null);
      const last = pts.length ? pts[pts.length - 1].v : null;
      $(id + "-now").textContent = last === null ? "" : number(last, 2) + unit;
      if (!known.length) {
        $(id).replaceChildren(metricsNote);
        continue;
      }
      $(id).replaceChildren(sparkline(pts, Math.max(...known.map((p) => p.v)), unit));
    }
  }

  // sparkline draws pts (time, value) as polylines, broken where a value is
  // unknown; x runs over the time there is data for (MIN_SPAN_MS to
  // WINDOW_MS), y from 0 to max.
  function sparkline(pts, max, unit) {
    const NS = "http://www.w3.org/2000/svg", W = 300, H = 60, now = Date.now();
    const span = Math.min(WINDOW_MS, Math.max(MIN_SPAN_MS, now - pts[0].t));
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    svg.setAttribute("preserveAspectRatio", "none");
    const title = document.createElementNS(NS, "title");
    title.textContent = "max " + number(max, 2) + unit;
    svg.append(title);
    const x = (t) => (W * (t - (now - span))) / span;
    const y = (v) => H - 2 - (max > 0 ? ((H - 4) * v) / max : 0);
    let run = []; // [x, y] of the current unbroken stretch
    const flush = () => {
      if (run.length === 1) run.push([run[0][0] + 1, run[0][1]]); // one point: a dash
      if (run.length) {
        const line = document.createElementNS(NS, "polyline");
        line.setAttribute("points", run.map(([px, py]) => px.toFixed(1) + "," + py.toFixed(1)).join(" "));
        line.setAttribute("vector-effect", "non-scaling-stroke");
        svg.append(line);
      }
      run = [];
    };
    for (const p of pts) {
      if (p.v === null) flush();
      else run.push([x(p.t), y(p.v)]);
    }
    flush();
    return svg;
  }

  // ---- actions ----------------------------------------------------------

  // act POSTs a button's data-action (with its data-body, if any) and shows
  // the answer.
  async function act(button) {
    const buttons = document.querySelectorAll("button[data-action]");
    buttons.forEach((b) => (b.disabled = true));
    const path = button.dataset.action;
    try {
      const body = button.dataset.body ? JSON.parse(button.dataset.body) : undefined;
      const text = await call("POST", path, body);
      say("action", "info", describe(button.textContent, JSON.parse(text)));
    } catch (err) {
      if (err instanceof HTTPError && err.status === 404) {
        say("action", "error", button.textContent + ": this orchestrator has no " + path + " (404)");
      } else {
        failed("action", err, button.textContent);
      }
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
    refresh();
  }

  function describe(what, answer) {
    if (Array.isArray(answer)) return what + ": killed pid " + answer.join(", ") + "; a replacement is on its way.";
    if (answer && answer.to) {
      return what + ": master " + answer.from + " → " + answer.to + ", epoch " + answer.epoch +
        ", writes paused " + number(answer.took_ms, 1) + " ms.";
    }
    return what + ": done.";
  }

  // ---- the loop ---------------------------------------------------------

  let timer = null;
  let running = false; // a refresh is under way
  let again = false; // and another was asked for meanwhile

  // refresh polls every source once, then again after POLL_MS. Called while
  // it runs (a button, the token), it runs once more right after, so there
  // is only ever one loop.
  async function refresh() {
    if (running) {
      again = true;
      return;
    }
    running = true;
    clearTimeout(timer);
    do {
      again = false;
      await refreshOnce();
    } while (again);
    running = false;
    timer = setTimeout(refresh, POLL_MS);
  }

  async function refreshOnce() {
    try {
      await Promise.all([
        poll("workers", drawWorkers),
        poll("status", drawStatus, () => { status = null; drawCluster(); }),
        poll("events", drawEvents, () => {
          $("events").tBodies[0].replaceChildren();
          $("events-note").textContent = "No event timeline on this orchestrator (" + ROUTES.events + " answered 404).";
        }),
        poll("metrics", drawMetrics, metricsMissing),
      ]);
      $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    } catch (err) {
      say("dashboard", "error", "dashboard: " + err.message); // a bug of ours: still in the page
    }
  }

  function init() {
    const input = $("token");
    input.value = storedToken();
    $("token-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      try {
        if (input.value.trim()) localStorage.setItem(TOKEN_KEY, input.value.trim());
        else localStorage.removeItem(TOKEN_KEY);
        unsay("auth");
        say("token", "info", input.value.trim() ? "Admin token saved in this browser." : "Admin token removed.");
      } catch (e) {
        say("token", "error", "cannot store the token in this browser: " + e.message);
      }
      refresh();
    });
    document.querySelectorAll("button[data-action]").forEach((b) => b.addEventListener("click", () => act(b)));
    drawCharts();
    refresh();
  }

  init();
})();
