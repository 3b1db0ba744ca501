// The dashboard's reading of the orchestrator's /metrics (docs/operations.md,
// "Metrics"): the Prometheus text format parsed into samples, and the DB
// API's read and write totals taken from them. Loaded before app.js; on its
// own so the browser test (test/ui) and a curious console can call it.
"use strict";

window.rideshareMetrics = (() => {
  // The metric names of the orchestrator's /metrics (docs/operations.md).
  const METRIC_REQUESTS = "rideshare_http_requests_total";
  const METRIC_DURATION = "rideshare_http_request_duration_seconds";
  // Which DB API routes (the "route" label) count as reads or writes.
  const DB_ROUTES = { read: ["/api/v1/db/read"], write: ["/api/v1/db/write", "/api/v1/db/clear"] };

  // parseMetrics reads the Prometheus text format into samples
  // {name, labels, value}; comments and malformed lines are skipped.
  function parseMetrics(text) {
    const samples = [];
    for (const raw of text.split("\n")) {
      const line = raw.trim();
      if (!line || line[0] === "#") continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
      if (!m) continue;
      let i = m[1].length;
      const labels = {};
      if (line[i] === "{") {
        i = parseLabels(line, i + 1, labels);
        if (i < 0) continue;
      }
      const value = parseFloat(line.slice(i).trim().split(/\s+/)[0].replace(/^\+?Inf$/, "Infinity"));
      if (!isNaN(value)) samples.push({ name: m[1], labels, value });
    }
    return samples;
  }

  // parseLabels reads `name="value",…}` from line at i into labels and
  // returns the index after the closing brace, or -1.
  function parseLabels(line, i, labels) {
    const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/y;
    while (i < line.length) {
      if (line[i] === "}") return i + 1;
      re.lastIndex = i;
      const m = re.exec(line);
      if (!m) return -1;
      labels[m[1]] = m[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
      i = re.lastIndex;
    }
    return -1;
  }

  function dbKind(route) {
    if (!route) return null;
    for (const kind in DB_ROUTES) {
      if (DB_ROUTES[kind].some((r) => route.endsWith(r))) return kind;
    }
    return null;
  }

  // totals adds up, per kind (read, write), the request counter and the
  // duration histogram's sum and count over every label set.
  function totals(samples) {
    const t = { read: { requests: 0, sum: 0, count: 0 }, write: { requests: 0, sum: 0, count: 0 } };
    for (const s of samples) {
      const a = t[dbKind(s.labels.route)];
      if (!a) continue;
      if (s.name === METRIC_REQUESTS) a.requests += s.value;
      else if (s.name === METRIC_DURATION + "_sum") a.sum += s.value;
      else if (s.name === METRIC_DURATION + "_count") a.count += s.value;
    }
    return t;
  }

  return { parseMetrics, totals };
})();
