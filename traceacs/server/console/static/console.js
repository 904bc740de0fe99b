// The TraceACS console: a client of the REST API, routed by the URL fragment.
import { h, clear, fmtTime, fmtDuration, fmtPercent, badge } from "./dom.js";
import { rateChart, failureRateChart, histogramChart, hbars } from "./charts.js";
import { waterfall } from "./waterfall.js";

const TOKEN_KEY = "traceacs.token";
const app = document.getElementById("app");
const nav = document.getElementById("nav");
const FAILURE_THRESHOLD = 0.05;

class ApiFailure extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

async function api(path, { allow404 = false, method = "GET" } = {}) {
  const response = await fetch(path, {
    method,
    headers: { Authorization: `Bearer ${token() || ""}`, Accept: "application/json" },
    cache: "no-store",
  });
  if (allow404 && response.status === 404) return null;
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const message = body && body.error ? body.error.message : `HTTP ${response.status}`;
    throw new ApiFailure(response.status, message);
  }
  return body;
}

// Which token we hold (name, role): asked once per token, so write actions can be
// offered to write tokens only and explained to read tokens.
let whoami = null;

async function currentToken() {
  if (!whoami || whoami.token !== token()) whoami = { token: token(), info: await api("/api/token") };
  return whoami.info;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") q.set(k, v);
  const text = q.toString();
  return text ? `?${text}` : "";
}

function route() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, search] = raw.split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(search || "") };
}

function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

// -- pages ----------------------------------------------------------------------------

function loginPage(message) {
  const input = h("input", { type: "password", id: "token", name: "token", autocomplete: "off", placeholder: "tacs_…", required: true });
  const status = h("p", { class: "form-error", role: "alert", id: "login-error" }, message || "");
  const form = h(
    "form",
    { class: "panel login", id: "login-form" },
    h("h1", null, "Sign in to TraceACS"),
    h("p", { class: "muted" }, "Paste an API token (", h("code", null, "traceacs tokens create --role read"), "). It is kept in this browser tab only."),
    h("label", { for: "token" }, "API token"),
    input,
    h("button", { type: "submit", class: "primary" }, "Sign in"),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    try {
      await api("/api/summary?window=60");
    } catch (err) {
      sessionStorage.removeItem(TOKEN_KEY);
      status.textContent = err instanceof ApiFailure && err.status === 401 ? "This token is not valid (unknown or revoked)." : `Could not sign in: ${err.message}`;
      return;
    }
    go("#/");
  });
  return form;
}

const WINDOWS = [
  ["1h", 3600],
  ["6h", 6 * 3600],
  ["24h", 86400],
  ["7d", 7 * 86400],
];

async function overviewPage(params) {
  const window = Number(params.get("window")) || 3600;
  const [summary, series, durations] = await Promise.all([
    api(`/api/summary?window=${window}`),
    api(`/api/summary/timeseries?window=${window}`),
    api(`/api/summary/durations?window=${window}`),
  ]);
  const sessions = summary.sessions;
  const load = sessions.active !== null && sessions.capacity ? sessions.active / sessions.capacity : null;
  const gauge = h("span", { class: "gauge-fill" });
  gauge.style.width = `${Math.min(100, (load || 0) * 100)}%`;
  const results = Object.entries(summary.by_result).sort((a, b) => b[1] - a[1]);
  return h(
    "div",
    null,
    h(
      "div",
      { class: "page-head" },
      h("h1", null, "Fleet overview"),
      h("div", { class: "segmented" }, WINDOWS.map(([label, seconds]) => h("a", { href: `#/?window=${seconds}`, class: seconds === window ? "active" : null }, label))),
    ),
    h(
      "div",
      { class: "cards" },
      card("Attempts", String(summary.attempts), `${summary.in_progress} in progress`),
      card("Provisioned", String(summary.by_result.success || 0), "successful attempts"),
      card("Failure rate", fmtPercent(summary.failure_rate), `${summary.failed} of ${summary.finished} finished`, summary.failure_rate > FAILURE_THRESHOLD ? "bad" : "good"),
      card("Duration p50 / p95", `${fmtDuration(summary.duration_s.p50)} / ${fmtDuration(summary.duration_s.p95)}`, `max ${fmtDuration(summary.duration_s.max)}`),
      h("div", { class: "card" }, h("div", { class: "card-label" }, "Active sessions"), h("div", { class: "card-value" }, `${sessions.active ?? "—"} / ${sessions.capacity ?? "—"}`), h("div", { class: "gauge" }, gauge)),
    ),
    alertsPanel(summary.alerts),
    h("div", { class: "grid2" }, rateChart(series), failureRateChart(series, FAILURE_THRESHOLD)),
    h(
      "div",
      { class: "grid2" },
      hbars("Results by class", results.map(([name, n]) => [name, n, name === "success" ? "ok" : "fail"])),
      histogramChart(durations),
    ),
    modelsTable(summary.by_model),
  );
}

function card(label, value, sub, tone) {
  return h("div", { class: `card${tone ? ` card-${tone}` : ""}` }, h("div", { class: "card-label" }, label), h("div", { class: "card-value" }, value), h("div", { class: "card-sub" }, sub));
}

function alertsPanel(alerts) {
  const firing = alerts.filter((a) => a.firing);
  return h(
    "section",
    { class: "panel alerts" },
    h("h2", null, firing.length ? `${firing.length} alert(s) firing` : "No alerts firing"),
    h("ul", { class: "alert-list" }, alerts.map((a) => h("li", { class: a.firing ? "alert firing" : "alert" }, badge(a.firing ? "firing" : "ok", a.firing ? "failed" : "provisioned"), h("strong", null, a.name), " — ", a.description))),
  );
}

function modelsTable(byModel) {
  const rows = Object.entries(byModel);
  if (!rows.length) return null;
  return h(
    "section",
    { class: "panel" },
    h("h2", null, "By model"),
    table(
      ["model", "attempts", "failed", "failure rate"],
      rows.map(([model, c]) => [h("a", { href: `#/devices${query({ model })}` }, model), c.attempts, c.failed, fmtPercent(c.failure_rate)]),
    ),
  );
}

function table(headers, rows, attrs) {
  return h("table", attrs || null, h("thead", null, h("tr", null, headers.map((t) => h("th", null, t)))), h("tbody", null, rows.map((r) => h("tr", null, r.map((c) => h("td", null, c))))));
}

const STATES = ["", "new", "provisioning", "provisioned", "failed"];

async function devicesPage(params) {
  const form = h(
    "form",
    { class: "search", id: "search-form" },
    field("serial", "Serial number", params.get("serial"), "SIM2026… (prefix)"),
    field("customer_id", "Customer", params.get("customer_id")),
    field("model", "Model", params.get("model")),
    h("label", null, "State", h("select", { name: "state" }, STATES.map((st) => h("option", { value: st, selected: st === (params.get("state") || "") }, st || "any")))),
    h("button", { type: "submit", class: "primary" }, "Search"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form).entries());
    go(`#/devices${query(data)}`);
  });
  const offset = Number(params.get("offset")) || 0;
  const filters = {};
  for (const key of ["serial", "customer_id", "model", "state", "failed_step"]) filters[key] = params.get(key);
  const page = await api(`/api/devices${query({ ...filters, limit: 50, offset })}`);
  if (page.total === 1 && filters.serial && page.items[0].serial_number === filters.serial && !params.get("list")) {
    go(`#/device/${encodeURIComponent(page.items[0].serial_number)}`);
  }
  return h("div", null, h("h1", null, "Devices"), form, devicesTable(page.items), pager(page.total, offset, 50, filters));
}

function devicesTable(items) {
  if (!items.length) return h("p", { class: "empty" }, "No device matches.");
  return table(
    ["serial number", "OUI", "model", "customer", "plan", "state", "failed step", "last inform"],
    items.map((d) => [
      h("a", { href: `#/device/${encodeURIComponent(d.serial_number)}${query({ oui: d.oui })}`, class: "serial" }, d.serial_number),
      d.oui,
      d.model || "—",
      d.customer_id,
      d.service_plan,
      badge(d.state),
      d.failed_step || "",
      fmtTime(d.last_inform_at),
    ]),
    { class: "devices", "data-testid": "device-list" },
  );
}

function pager(total, offset, limit, filters) {
  if (total <= limit) return h("p", { class: "muted" }, `${total} device(s)`);
  const link = (o, text) => h("a", { href: `#/devices${query({ ...filters, offset: o, list: 1 })}` }, text);
  return h("p", { class: "pager" }, offset > 0 ? link(Math.max(0, offset - limit), "← previous") : null, ` ${offset + 1}–${Math.min(total, offset + limit)} of ${total} `, offset + limit < total ? link(offset + limit, "next →") : null);
}

function field(name, label, value, placeholder) {
  return h("label", null, label, h("input", { name, value: value || "", placeholder: placeholder || "", autocomplete: "off" }));
}

async function devicePage(serial, params) {
  const oui = params.get("oui");
  const q = query({ oui });
  const path = `/api/devices/${encodeURIComponent(serial)}`;
  const [device, attempts, trace] = await Promise.all([
    api(path + q),
    api(`${path}/attempts${query({ oui, limit: 20 })}`),
    api(`${path}/trace${q}`, { allow404: true }),
  ]);
  const [profile, me] = await Promise.all([currentProfile(device), currentToken()]);
  return h(
    "div",
    { class: "device" },
    h("div", { class: "page-head" }, h("h1", null, h("span", { class: "serial", "data-testid": "serial" }, device.serial_number), " ", badge(device.state)), h("span", { class: "muted" }, `OUI ${device.oui}`), reprovisionControl(device, me)),
    device.state === "failed" ? h("div", { class: "callout callout-fail" }, "Failed at ", h("strong", null, device.failed_step || "?"), ": ", device.failure_reason || "") : null,
    trace ? waterfall(trace) : h("section", { class: "panel" }, h("h2", null, "Provisioning trace"), h("p", { class: "muted" }, "No trace recorded for this device yet.")),
    h("div", { class: "grid2" }, identityPanel(device), profilePanel(device, profile)),
    historyPanel(attempts.items),
    valuesPanel(device.last_values),
  );
}

function reprovisionControl(device, me) {
  const canWrite = me.role === "write";
  const why = canWrite ? "Set the state back to new: the next inform provisions the device again." : `Needs a write token: ${me.name} is a read token.`;
  const button = h("button", { type: "button", class: "primary", "data-testid": "reprovision", disabled: !canWrite, title: why, "aria-describedby": "reprovision-note" }, "Re-provision now");
  const note = h("p", { class: "muted small", id: "reprovision-note", "data-testid": "reprovision-note", role: "status" }, canWrite ? "" : why);
  button.addEventListener("click", async () => {
    button.disabled = true;
    note.textContent = "Re-provisioning…";
    try {
      const updated = await api(`/api/devices/${encodeURIComponent(device.serial_number)}/reprovision${query({ oui: device.oui })}`, { method: "POST" });
      note.textContent = `Done: state ${device.state} → ${updated.state}; it is provisioned again at its next inform. Recorded in the audit log.`;
      note.className = "ok small";
      const state = document.querySelector(".device .page-head h1 .badge");
      if (state) state.replaceWith(badge(updated.state));
    } catch (err) {
      note.textContent = `Re-provisioning failed: ${err.message}`;
      note.className = "form-error small";
    } finally {
      button.disabled = false;
    }
  });
  return h("div", { class: "actions" }, button, note);
}

function kv(pairs) {
  return h("dl", { class: "kv" }, pairs.map(([k, v]) => [h("dt", null, k), h("dd", null, v === null || v === undefined || v === "" ? "—" : v)]));
}

function identityPanel(d) {
  return h(
    "section",
    { class: "panel", "data-testid": "identity" },
    h("h2", null, "Identity"),
    kv([
      ["manufacturer", d.manufacturer],
      ["model", d.model],
      ["product class", d.product_class],
      ["firmware", d.firmware_version],
      ["data model", d.data_model_root],
      ["MAC", d.mac],
      ["customer", d.customer_id],
      ["service plan", d.service_plan],
      ["location", d.location_id],
      ["last inform", fmtTime(d.last_inform_at)],
      ["last boot", fmtTime(d.last_boot_at)],
      ["connection request", d.connection_request_url],
    ]),
  );
}

async function currentProfile(device) {
  for (const name of [`customer:${device.customer_id}`, device.service_plan]) {
    const doc = await api(`/api/profiles/${encodeURIComponent(name)}`, { allow404: true });
    if (doc) return { name, doc };
  }
  return null;
}

function flatten(value, prefix, out) {
  if (Array.isArray(value)) value.forEach((v, i) => flatten(v, `${prefix}[${i}]`, out));
  else if (value !== null && typeof value === "object") for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  else out.push([prefix, String(value)]);
  return out;
}

function profilePanel(device, profile) {
  if (!profile) return h("section", { class: "panel" }, h("h2", null, "Service profile"), h("p", { class: "muted" }, `No profile for plan ${device.service_plan}.`));
  const rows = flatten(profile.doc, "", []).filter(([k]) => k !== "name" && k !== "version");
  return h(
    "section",
    { class: "panel" },
    h("h2", null, "Service profile"),
    kv([
      ["profile", profile.name],
      ["version", String(profile.doc.version ?? "")],
      ["applied version", device.profile_version],
    ]),
    h("details", null, h("summary", null, `${rows.length} settings (secrets masked)`), kv(rows)),
  );
}

function historyPanel(items) {
  return h(
    "section",
    { class: "panel" },
    h("h2", null, "Provisioning history"),
    items.length
      ? table(
          ["started", "duration", "result", "failing step", "fault", "trace"],
          items.map((a) => [
            fmtTime(a.started_at),
            fmtDuration(a.duration_s),
            a.result ? badge(a.result, a.result === "success" ? "provisioned" : "failed") : badge("running", "provisioning"),
            a.failing_step || "",
            a.fault_code !== null ? `${a.fault_code} ${a.fault_string || ""}` : "",
            a.trace_id ? h("a", { href: `#/trace/${a.trace_id}` }, h("code", null, a.trace_id.slice(0, 12) + "…")) : "",
          ]),
        )
      : h("p", { class: "muted" }, "No attempts yet."),
  );
}

function valuesPanel(values) {
  const entries = Object.entries(values).sort();
  const filter = h("input", { placeholder: "filter parameters", class: "filter" });
  const body = table(["parameter", "value"], entries.map(([k, v]) => [h("code", null, k), v]), { class: "values" });
  filter.addEventListener("input", () => {
    const needle = filter.value.toLowerCase();
    for (const row of body.tBodies[0].rows) row.hidden = !row.textContent.toLowerCase().includes(needle);
  });
  return h("section", { class: "panel", "data-testid": "last-values" }, h("h2", null, `Last values read (${entries.length})`), entries.length ? [filter, body] : h("p", { class: "muted" }, "Nothing read yet."));
}

async function tracePage(traceId) {
  const trace = await api(`/api/traces/${encodeURIComponent(traceId)}`);
  return h("div", null, h("h1", null, "Trace of ", trace.serial_number ? h("a", { href: `#/device/${encodeURIComponent(trace.serial_number)}${query({ oui: trace.oui })}` }, trace.serial_number) : "(unknown device)"), waterfall(trace));
}

function groupQuery(g) {
  const params = {};
  const missing = [];
  for (const key of ["result", "step", "model", "fault_code"]) {
    if (g[key] === null || g[key] === undefined) missing.push(key);
    else params[key] = g[key];
  }
  if (missing.length) params.missing = missing.join(",");
  return query(params);
}

async function failuresPage() {
  const groups = await api("/api/failures");
  const max = Math.max(1, ...groups.items.map((g) => g.count));
  return h(
    "div",
    null,
    h("h1", null, "Failures"),
    h("p", { class: "muted" }, `${groups.total_devices} failed device(s), grouped by the result, step, model and fault code of their last attempt.`),
    groups.items.length
      ? table(
          ["devices", "result", "step", "model", "fault code", ""],
          groups.items.map((g) => {
            const bar = h("span", { class: "hbar-fill hbar-fail" });
            bar.style.width = `${(g.count / max) * 100}%`;
            return [h("a", { href: `#/failures/devices${groupQuery(g)}`, class: "count" }, String(g.count)), g.result || "—", g.step || "—", g.model || "—", g.fault_code === null ? "—" : String(g.fault_code), h("span", { class: "hbar-track" }, bar)];
          }),
          { class: "failures", "data-testid": "failure-groups" },
        )
      : h("p", { class: "empty" }, "No failed devices."),
  );
}

async function failureDevicesPage(params) {
  const page = await api(`/api/failures/devices?${params.toString()}`);
  const label = ["result", "step", "model", "fault_code"].map((k) => `${k}: ${params.get(k) ?? "none"}`).join(" · ");
  return h("div", null, h("p", null, h("a", { href: "#/failures" }, "← all failures")), h("h1", null, "Failed devices"), h("p", { class: "muted" }, label), devicesTable(page.items));
}

const AUDIT_PAGE = 50;

async function auditPage(params) {
  const me = await currentToken();
  if (me.role !== "write") return h("div", null, h("h1", null, "Audit log"), h("div", { class: "callout", role: "note" }, `The audit log names tokens, so it needs a write token: ${me.name} is a read token.`));
  const offset = Math.max(0, Number(params.get("offset")) || 0);
  const page = await api(`/api/audit${query({ limit: AUDIT_PAGE, offset })}`);
  const link = (o, text) => h("a", { href: `#/audit${query({ offset: o })}` }, text);
  const pagerLine = h(
    "p",
    { class: "pager" },
    offset > 0 ? link(Math.max(0, offset - AUDIT_PAGE), "← newer") : null,
    page.items.length ? ` entries ${offset + 1}–${offset + page.items.length} ` : " no entries ",
    page.items.length === AUDIT_PAGE ? link(offset + AUDIT_PAGE, "older →") : null,
  );
  return h(
    "div",
    null,
    h("h1", null, "Audit log"),
    h("p", { class: "muted" }, "Every write through the API, newest first: who (the token's name), what (method and path, on which target), when, and the answer."),
    page.items.length
      ? table(
          ["when", "who", "what", "target", "status"],
          page.items.map((e) => [fmtTime(e.at), e.token_name || "—", h("code", null, `${e.method} ${e.path}`), e.target || "—", badge(String(e.status), e.status < 400 ? "provisioned" : "failed")]),
          { class: "audit", "data-testid": "audit-log" },
        )
      : h("p", { class: "empty" }, "No writes yet."),
    pagerLine,
  );
}

// -- shell ----------------------------------------------------------------------------

function renderNav(current) {
  clear(nav);
  if (!token()) return;
  const links = [
    ["#/", "Overview", current === ""],
    ["#/devices", "Devices", current === "devices" || current === "device"],
    ["#/failures", "Failures", current === "failures"],
    ["#/audit", "Audit", current === "audit"],
  ];
  const quick = h("form", { class: "quick", id: "quick-search" }, h("input", { name: "serial", placeholder: "Serial number…", "aria-label": "serial number", autocomplete: "off" }));
  quick.addEventListener("submit", (event) => {
    event.preventDefault();
    const serial = new FormData(quick).get("serial").trim();
    if (serial) go(`#/devices${query({ serial })}`);
  });
  const logout = h("button", { type: "button", class: "link" }, "Sign out");
  logout.addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    go("#/login");
  });
  nav.append(...links.map(([href, text, active]) => h("a", { href, class: active ? "active" : null }, text)), quick, logout);
}

let generation = 0;

async function render() {
  const mine = ++generation;
  const { parts, params } = route();
  const page = parts[0] || "";
  renderNav(page);
  if (!token() || page === "login") {
    clear(app).append(loginPage(params.get("message")));
    return;
  }
  clear(app).append(h("p", { class: "loading" }, "Loading…"));
  let content;
  try {
    if (page === "") content = await overviewPage(params);
    else if (page === "devices") content = await devicesPage(params);
    else if (page === "device" && parts[1]) content = await devicePage(parts[1], params);
    else if (page === "trace" && parts[1]) content = await tracePage(parts[1]);
    else if (page === "failures" && parts[1] === "devices") content = await failureDevicesPage(params);
    else if (page === "failures") content = await failuresPage();
    else if (page === "audit") content = await auditPage(params);
    else content = h("p", { class: "empty" }, "No such page.");
  } catch (err) {
    if (err instanceof ApiFailure && err.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      renderNav("login");
      clear(app).append(loginPage("Your session has ended: the token is invalid or was revoked. Sign in again."));
      return;
    }
    const text = err instanceof ApiFailure && err.status === 403 ? `Not allowed: ${err.message}` : err instanceof ApiFailure ? err.message : `Something went wrong: ${err.message}`;
    content = h("div", { class: "callout callout-fail", role: "alert" }, text);
  }
  if (mine === generation) clear(app).append(content);
}

window.addEventListener("hashchange", render);
render();
