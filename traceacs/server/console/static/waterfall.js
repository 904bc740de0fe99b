// The provisioning trace as a waterfall: one row per span, its bar placed by offset and
// sized by duration on the trace's time axis, the failing step highlighted.
import { h, fmtMs, fmtTime, badge } from "./dom.js";

// A trace id in an attribute (the connection request that caused this session, the
// session a transfer task started in) links to that trace in the console.
const TRACE_REFERENCE = /\.(trace_id|started_trace_id)$/;

function attributeValue(key, value) {
  const text = Array.isArray(value) ? value.join(", ") : String(value);
  if (TRACE_REFERENCE.test(key) && /^[0-9a-f]{32}$/.test(text)) {
    return h("a", { href: `#/trace/${text}`, "data-testid": "trace-link" }, h("code", null, text));
  }
  return text;
}

function attributeList(attributes) {
  const entries = Object.entries(attributes);
  if (!entries.length) return null;
  return h(
    "dl",
    { class: "attrs" },
    entries.map(([key, value]) => [h("dt", null, key), h("dd", null, attributeValue(key, value))]),
  );
}

function failureBox(trace) {
  const f = trace.failure;
  if (!f) return h("div", { class: "callout callout-ok" }, `Provisioned: ${trace.result}`);
  return h(
    "div",
    { class: "callout callout-fail", "data-testid": "failure" },
    h("div", { class: "callout-title" }, "Failed at ", h("strong", { "data-testid": "failing-step" }, f.step || "?"), ": ", f.reason || trace.result),
    h(
      "dl",
      { class: "kv" },
      h("dt", null, "result"),
      h("dd", null, trace.result),
      f.fault_code !== null ? [h("dt", null, "fault code"), h("dd", null, String(f.fault_code))] : null,
      f.fault_string ? [h("dt", null, "fault string"), h("dd", null, f.fault_string)] : null,
    ),
    f.mismatched_parameters.length
      ? h(
          "div",
          { class: "mismatches" },
          h("div", null, `${f.mismatched_parameters.length} parameter(s) read back different from what was pushed:`),
          h("ul", { "data-testid": "mismatched" }, f.mismatched_parameters.map((p) => h("li", null, h("code", null, p)))),
        )
      : null,
  );
}

export function waterfall(trace) {
  const total = trace.total_ms || 1;
  const rows = trace.spans.map((span) => {
    const bar = h("span", { class: "wf-bar" });
    bar.style.left = `${Math.min(99.5, (span.offset_ms / total) * 100)}%`;
    bar.style.width = `${Math.max(0.5, (span.duration_ms / total) * 100)}%`;
    const name = h("span", { class: "wf-name" }, span.status === "error" ? h("span", { class: "wf-mark" }, span.failing ? "✗ " : "! ") : null, span.name);
    name.style.paddingLeft = `${span.depth * 1.1}rem`;
    const details = h(
      "div",
      { class: "wf-details" },
      span.status_message ? h("div", { class: "wf-status" }, span.status_message) : null,
      attributeList(span.attributes),
    );
    const row = h(
      "div",
      {
        class: `wf-row${span.failing ? " wf-failing" : span.status === "error" ? " wf-error" : ""}`,
        "data-span": span.name,
      },
      h(
        "button",
        { class: "wf-head", type: "button", "aria-expanded": span.failing ? "true" : "false" },
        name,
        h("span", { class: "wf-track" }, bar),
        h("span", { class: "wf-offset" }, `+${fmtMs(span.offset_ms)}`),
        h("span", { class: "wf-duration" }, fmtMs(span.duration_ms)),
      ),
      details,
    );
    if (!span.failing) row.classList.add("collapsed");
    row.firstChild.addEventListener("click", () => {
      const collapsed = row.classList.toggle("collapsed");
      row.firstChild.setAttribute("aria-expanded", collapsed ? "false" : "true");
    });
    return row;
  });
  return h(
    "section",
    { class: "panel waterfall", "data-testid": "waterfall" },
    h("h2", null, "Provisioning trace"),
    h(
      "p",
      { class: "muted" },
      `Started ${fmtTime(trace.started_at)}, took ${fmtMs(trace.duration_ms)}, ${trace.span_count} spans `,
      badge(trace.result, trace.failure ? "failed" : "provisioned"),
    ),
    failureBox(trace),
    h(
      "div",
      { class: "wf" },
      h("div", { class: "wf-axis" }, h("span", null, "span"), h("span", { class: "wf-scale" }, h("span", null, "0"), h("span", null, fmtMs(total))), h("span", null, "offset"), h("span", null, "duration")),
      rows,
    ),
    h("p", { class: "trace-id" }, "Trace id ", h("code", null, trace.trace_id), " (look it up in your tracing backend; click a span for its attributes)"),
  );
}
