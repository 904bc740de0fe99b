// Small inline-SVG charts drawn from API data (no library). Labels are text nodes.
import { s, h, fmtTime } from "./dom.js";

const W = 640;
const H = 200;
const PAD = { left: 44, right: 12, top: 12, bottom: 28 };

function frame(title, ...content) {
  return h("figure", { class: "chart" }, h("figcaption", null, title), ...content);
}

function axisY(max, fmt) {
  const ticks = [0, max / 2, max];
  const plotH = H - PAD.top - PAD.bottom;
  return ticks.map((t) => {
    const y = PAD.top + plotH - (max ? (t / max) * plotH : 0);
    return s(
      "g",
      { class: "tick" },
      s("line", { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y }),
      s("text", { x: PAD.left - 6, y: y + 4, "text-anchor": "end" }, fmt(t)),
    );
  });
}

function niceMax(value) {
  if (value <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * step >= value) return m * step;
  return 10 * step;
}

function timeLabels(buckets) {
  const plotW = W - PAD.left - PAD.right;
  const n = buckets.length;
  const picks = n <= 1 ? [0] : [0, Math.floor((n - 1) / 2), n - 1];
  return picks.map((i) =>
    s(
      "text",
      {
        class: "xlabel",
        x: PAD.left + ((i + 0.5) / n) * plotW,
        y: H - 8,
        "text-anchor": i === 0 ? "start" : i === n - 1 ? "end" : "middle",
      },
      fmtTime(buckets[i].start).slice(5, 16),
    ),
  );
}

/** Attempts per bucket, succeeded and failed stacked. */
export function rateChart(series) {
  const buckets = series.buckets;
  const max = niceMax(Math.max(0, ...buckets.map((b) => b.attempts)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const bw = plotW / Math.max(1, buckets.length);
  const bars = buckets.flatMap((b, i) => {
    const x = PAD.left + i * bw + bw * 0.1;
    const ok = (b.succeeded / max) * plotH;
    const bad = (b.failed / max) * plotH;
    const running = ((b.attempts - b.finished) / max) * plotH;
    const base = PAD.top + plotH;
    const title = `${fmtTime(b.start)}: ${b.succeeded} provisioned, ${b.failed} failed, ${b.attempts - b.finished} running`;
    return [
      ok > 0 ? s("rect", { class: "bar-ok", x, width: bw * 0.8, y: base - ok, height: ok }, s("title", null, title)) : null,
      bad > 0 ? s("rect", { class: "bar-fail", x, width: bw * 0.8, y: base - ok - bad, height: bad }, s("title", null, title)) : null,
      running > 0 ? s("rect", { class: "bar-running", x, width: bw * 0.8, y: base - ok - bad - running, height: running }, s("title", null, title)) : null,
    ];
  });
  return frame(
    `Provisioning attempts per ${series.bucket_s >= 60 ? `${Math.round(series.bucket_s / 60)} min` : `${series.bucket_s} s`}`,
    s("svg", { viewBox: `0 0 ${W} ${H}`, class: "svg-chart", role: "img" }, axisY(max, (t) => String(Math.round(t))), bars, timeLabels(buckets)),
    legend([["ok", "provisioned"], ["fail", "failed"], ["running", "in progress"]]),
  );
}

/** Failure rate per bucket as a line, with the alert threshold. */
export function failureRateChart(series, threshold) {
  const buckets = series.buckets;
  const rates = buckets.map((b) => b.failure_rate);
  const max = niceMax(Math.max(threshold * 2, ...rates.filter((r) => r !== null)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const n = Math.max(1, buckets.length);
  const pt = (r, i) => [PAD.left + ((i + 0.5) / n) * plotW, PAD.top + plotH - (r / max) * plotH];
  const segments = [];
  let current = [];
  rates.forEach((r, i) => {
    if (r === null) {
      if (current.length) segments.push(current);
      current = [];
    } else current.push(pt(r, i));
  });
  if (current.length) segments.push(current);
  const ty = PAD.top + plotH - (threshold / max) * plotH;
  return frame(
    "Failure rate",
    s(
      "svg",
      { viewBox: `0 0 ${W} ${H}`, class: "svg-chart", role: "img" },
      axisY(max, (t) => `${Math.round(t * 100)}%`),
      s("line", { class: "threshold", x1: PAD.left, x2: W - PAD.right, y1: ty, y2: ty }),
      s("text", { class: "threshold-label", x: W - PAD.right, y: ty - 4, "text-anchor": "end" }, `alert above ${Math.round(threshold * 100)}%`),
      segments.map((seg) =>
        seg.length === 1
          ? s("circle", { class: "rate-dot", cx: seg[0][0], cy: seg[0][1], r: 3 })
          : s("polyline", { class: "rate-line", points: seg.map((p) => p.join(",")).join(" ") }),
      ),
      timeLabels(buckets),
    ),
  );
}

/** Duration histogram from /api/summary/durations. */
export function histogramChart(histogram) {
  const buckets = histogram.buckets;
  const max = niceMax(Math.max(0, ...buckets.map((b) => b.count)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const bw = plotW / buckets.length;
  const label = (b, i) => (b.le === null ? `>${buckets[i - 1].le}s` : `≤${b.le}s`);
  return frame(
    "Provisioning duration",
    s(
      "svg",
      { viewBox: `0 0 ${W} ${H}`, class: "svg-chart", role: "img" },
      axisY(max, (t) => String(Math.round(t))),
      buckets.map((b, i) => {
        const hgt = (b.count / max) * plotH;
        const x = PAD.left + i * bw;
        return s(
          "g",
          null,
          s("rect", { class: "bar-hist", x: x + bw * 0.12, width: bw * 0.76, y: PAD.top + plotH - hgt, height: hgt }, s("title", null, `${label(b, i)}: ${b.count}`)),
          s("text", { class: "xlabel", x: x + bw / 2, y: H - 8, "text-anchor": "middle" }, label(b, i)),
        );
      }),
    ),
  );
}

/** Horizontal bars: [[label, value, kind]]. */
export function hbars(title, rows) {
  const max = Math.max(1, ...rows.map((r) => r[1]));
  return frame(
    title,
    h(
      "div",
      { class: "hbars" },
      rows.length === 0 ? h("p", { class: "muted" }, "No attempts in this window.") : null,
      rows.map(([label, value, kind]) => {
        const bar = h("span", { class: `hbar-fill hbar-${kind}` });
        bar.style.width = `${(value / max) * 100}%`;
        return h("div", { class: "hbar" }, h("span", { class: "hbar-label" }, label), h("span", { class: "hbar-track" }, bar), h("span", { class: "hbar-value" }, String(value)));
      }),
    ),
  );
}

function legend(items) {
  return h("div", { class: "legend" }, items.map(([kind, text]) => h("span", null, h("i", { class: `swatch swatch-${kind}` }), text)));
}
