#!/usr/bin/env node
// IOPS against queue depth, from bench/sweep.sh's lines, as a hand-written SVG: a log2 x axis (QD 1,
// 2, 4 … 64), a log10 y axis (IOPS; the drivers differ by more than ten times), one polyline per
// series — nvme-wasm per block size, Linux + fio (io_uring, 4 KiB) — the 4 KiB device floor (QD1
// polled, 1e6 / the device's part of an IO) as a dashed line, Linux's timed-out points as crosses on
// the x axis, and a legend.
//
//   node bench/plot.js [SWEEP.txt|-] [OUT.svg]     (defaults: standard input, docs/bench-qd.svg)
//   bench/sweep.sh --linux > build/sweep.txt && node bench/plot.js build/sweep.txt docs/bench-qd.svg
//
// Every point is a <circle class="point" data-driver=… data-block-bytes=… data-qd=… data-iops=…>
// and every series a <g class="series" data-label=…>, so a test can read the plot back
// (test/bench/plot.test.js).
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const WIDTH = 860;
const HEIGHT = 540;
const PLOT = { left: 84, right: 600, top: 66, bottom: 470 }; // the plot area, px
const LEGEND_X = 620;
const COLORS = {
  "nvme-wasm 4096": "#1f6fb4",
  "nvme-wasm 16384": "#6aa7d8",
  "nvme-wasm 131072": "#9a6fc0",
  linux: "#d9541e",
};
const FLOOR_COLOR = "#444";
const TICK_MANTISSAS = [1, 2, 5]; // y gridlines at 1, 2, 5 × 10^k
const FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"';

const escape = (s) =>
  String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

// `key=value` fields of one line; a bare word (timed-out) is a field whose value is true.
export function fieldsOf(line) {
  const out = {};
  for (const word of line.trim().split(/\s+/).slice(1)) {
    const eq = word.indexOf("=");
    if (eq < 0) out[word] = true;
    else out[word.slice(0, eq)] = word.slice(eq + 1);
  }
  return out;
}

// The sweep's lines: { points: [{ driver, engine, irq, blockBytes, qd, iops, timedOut }], floors:
// [{ blockBytes, iops, deviceUs }] }. Comments (#), other lines and points without a figure that did
// not time out (errors) are skipped; a timed-out point has iops null.
export function parseSweep(text) {
  const points = [];
  const floors = [];
  for (const line of text.split("\n")) {
    const kind = line.split(/\s/, 1)[0];
    if (kind !== "sweep" && kind !== "floor") continue;
    const f = fieldsOf(line);
    const blockBytes = Number(f.block_bytes);
    if (kind === "floor") {
      const iops = Number(f.floor_iops);
      if (Number.isFinite(iops) && iops > 0) floors.push({ blockBytes, iops, deviceUs: Number(f.device_us_avg) });
      continue;
    }
    const iops = Number(f.iops);
    const timedOut = f["timed-out"] === true;
    if (!timedOut && !(iops > 0)) continue; // an error line, or no figure: nothing to draw
    points.push({
      driver: f.driver,
      engine: f.engine,
      irq: f.irq,
      blockBytes,
      qd: Number(f.qd),
      iops: timedOut ? null : iops,
      timedOut,
    });
  }
  return { points, floors };
}

const kib = (bytes) => `${bytes / 1024} KiB`;
const thousands = (n) => (n >= 1e6 ? `${n / 1e6}M` : n >= 1000 ? `${n / 1000}k` : String(n));

// Series in the order they are drawn and listed: nvme-wasm by block size, then Linux.
function seriesOf(points) {
  const byKey = new Map();
  for (const p of points) {
    const key = p.driver === "linux" ? "linux" : `nvme-wasm ${p.blockBytes}`;
    if (!byKey.has(key)) {
      const label =
        p.driver === "linux"
          ? `Linux 6.1 + fio (${p.engine ?? "io_uring"}), ${kib(p.blockBytes)}`
          : `nvme-wasm (${p.irq === "poll" ? "polled" : "MSI-X"}), ${kib(p.blockBytes)}`;
      byKey.set(key, { key, label, driver: p.driver, blockBytes: p.blockBytes, points: [] });
    }
    byKey.get(key).points.push(p);
  }
  const order = (s) => (s.driver === "linux" ? 1e12 : s.blockBytes);
  return [...byKey.values()]
    .sort((a, b) => order(a) - order(b))
    .map((s) => ({ ...s, points: s.points.sort((a, b) => a.qd - b.qd) }));
}

// The axes' ranges: QD as powers of two, IOPS as whole decades around every value and the floor.
function scales(points, floor) {
  const qds = points.map((p) => p.qd).filter((q) => q > 0);
  const qdMin = 2 ** Math.floor(Math.log2(Math.min(1, ...qds)));
  const qdMax = 2 ** Math.ceil(Math.log2(Math.max(2, ...qds)));
  const values = points
    .filter((p) => p.iops)
    .map((p) => p.iops)
    .concat(floor ? [floor.iops] : []);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...values, 1e4)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...values, 1e4) * 1.05));
  const x = (qd) =>
    PLOT.left + ((Math.log2(qd) - Math.log2(qdMin)) / (Math.log2(qdMax) - Math.log2(qdMin))) * (PLOT.right - PLOT.left);
  const y = (iops) =>
    PLOT.bottom - ((Math.log10(iops) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (PLOT.bottom - PLOT.top);
  return { qdMin, qdMax, lo, hi, x, y };
}

function axes(s) {
  const out = [];
  out.push(
    `<rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.right - PLOT.left}" height="${PLOT.bottom - PLOT.top}" fill="none" stroke="#888"/>`,
  );
  for (let qd = s.qdMin; qd <= s.qdMax; qd *= 2) {
    const x = s.x(qd).toFixed(1);
    out.push(`<line x1="${x}" y1="${PLOT.top}" x2="${x}" y2="${PLOT.bottom}" stroke="#e4e4e4"/>`);
    out.push(
      `<text class="x-tick" x="${x}" y="${PLOT.bottom + 18}" text-anchor="middle" ${FONT} font-size="12">${qd}</text>`,
    );
  }
  for (let decade = s.lo; decade < s.hi * 1.001; decade *= 10) {
    for (const m of TICK_MANTISSAS) {
      const v = decade * m;
      if (v < s.lo || v > s.hi * 1.001) continue;
      const y = s.y(v).toFixed(1);
      out.push(
        `<line x1="${PLOT.left}" y1="${y}" x2="${PLOT.right}" y2="${y}" stroke="${m === 1 ? "#cfcfcf" : "#eeeeee"}"/>`,
      );
      out.push(
        `<text class="y-tick" x="${PLOT.left - 8}" y="${(Number(y) + 4).toFixed(1)}" text-anchor="end" ${FONT} font-size="12">${thousands(v)}</text>`,
      );
    }
  }
  const midX = (PLOT.left + PLOT.right) / 2,
    midY = (PLOT.top + PLOT.bottom) / 2;
  out.push(
    `<text class="x-label" x="${midX}" y="${PLOT.bottom + 44}" text-anchor="middle" ${FONT} font-size="14">queue depth (requests in flight, log2 scale)</text>`,
  );
  out.push(
    `<text class="y-label" x="22" y="${midY}" text-anchor="middle" transform="rotate(-90 22 ${midY})" ${FONT} font-size="14">IOPS (random reads, log scale)</text>`,
  );
  return out.join("\n");
}

function seriesSvg(series, s) {
  const color = COLORS[series.key] ?? "#333";
  const live = series.points.filter((p) => p.iops);
  const path = live.map((p) => `${s.x(p.qd).toFixed(1)},${s.y(p.iops).toFixed(1)}`).join(" ");
  const out = [
    `<g class="series" data-label="${escape(series.label)}" data-driver="${escape(series.driver)}" data-block-bytes="${series.blockBytes}">`,
  ];
  if (live.length > 1)
    out.push(
      `<polyline points="${path}" fill="none" stroke="${color}" stroke-width="${series.blockBytes === 4096 ? 2.5 : 1.6}"/>`,
    );
  for (const p of live) {
    out.push(
      `<circle class="point" cx="${s.x(p.qd).toFixed(1)}" cy="${s.y(p.iops).toFixed(1)}" r="3.5" fill="${color}" ` +
        `data-driver="${escape(series.driver)}" data-block-bytes="${p.blockBytes}" data-qd="${p.qd}" data-iops="${p.iops}"><title>${escape(series.label)}: QD ${p.qd}, ${p.iops} IOPS</title></circle>`,
    );
  }
  for (const p of series.points.filter((q) => !q.iops)) {
    const x = s.x(p.qd),
      y = PLOT.bottom - 8;
    out.push(
      `<path class="timed-out" data-qd="${p.qd}" d="M${(x - 5).toFixed(1)},${y - 5} l10,10 m0,-10 l-10,10" stroke="${color}" stroke-width="2"/>`,
    );
    out.push(
      `<text x="${x.toFixed(1)}" y="${y - 9}" text-anchor="middle" ${FONT} font-size="10" fill="${color}">timed out</text>`,
    );
  }
  out.push("</g>");
  return out.join("\n");
}

function floorSvg(floor, s) {
  if (!floor) return "";
  const y = s.y(floor.iops).toFixed(1);
  return (
    `<g class="floor" data-iops="${floor.iops}" data-block-bytes="${floor.blockBytes}">` +
    `<line x1="${PLOT.left}" y1="${y}" x2="${PLOT.right}" y2="${y}" stroke="${FLOOR_COLOR}" stroke-width="1.5" stroke-dasharray="6 4"/>` +
    `<text x="${PLOT.right - 6}" y="${Number(y) - 6}" text-anchor="end" ${FONT} font-size="11" fill="${FLOOR_COLOR}" stroke="white" stroke-width="3" paint-order="stroke">QEMU's floor at QD1, ${kib(floor.blockBytes)}: ${floor.iops} IOPS</text></g>`
  );
}

function legend(series, floor) {
  const out = [`<g class="legend">`];
  let y = PLOT.top + 8;
  for (const sr of series) {
    const color = COLORS[sr.key] ?? "#333";
    out.push(
      `<line x1="${LEGEND_X}" y1="${y}" x2="${LEGEND_X + 26}" y2="${y}" stroke="${color}" stroke-width="2.5"/><circle cx="${LEGEND_X + 13}" cy="${y}" r="3.5" fill="${color}"/>`,
    );
    out.push(
      `<text class="legend-entry" x="${LEGEND_X + 34}" y="${y + 4}" ${FONT} font-size="12">${escape(sr.label)}</text>`,
    );
    y += 22;
  }
  if (floor) {
    out.push(
      `<line x1="${LEGEND_X}" y1="${y}" x2="${LEGEND_X + 26}" y2="${y}" stroke="${FLOOR_COLOR}" stroke-width="1.5" stroke-dasharray="6 4"/>`,
    );
    out.push(
      `<text class="legend-entry" x="${LEGEND_X + 34}" y="${y + 4}" ${FONT} font-size="12">device floor (QD1 polled, ${kib(floor.blockBytes)})</text>`,
    );
  }
  out.push("</g>");
  return out.join("\n");
}

const SUBTITLE =
  "QEMU 7.2 under TCG: q35, -cpu max, one vCPU, 512 MiB; 1 GiB null-co NVMe; random reads (bench/sweep.sh)";

// The SVG for a parsed sweep; `title` and `subtitle` go on top.
export function renderSvg(
  data,
  { title = "IOPS against queue depth: nvme-wasm and Linux 6.1", subtitle = SUBTITLE } = {},
) {
  const series = seriesOf(data.points);
  const floor = data.floors.find((f) => f.blockBytes === 4096) ?? data.floors[0] ?? null;
  const s = scales(data.points, floor);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text class="title" x="${PLOT.left}" y="28" ${FONT} font-size="16" font-weight="bold">${escape(title)}</text>`,
    `<text class="subtitle" x="${PLOT.left}" y="47" ${FONT} font-size="12" fill="#555">${escape(subtitle)}</text>`,
    axes(s),
    floorSvg(floor, s),
    ...series.map((sr) => seriesSvg(sr, s)),
    legend(series, floor),
    "</svg>",
    "",
  ].join("\n");
}

function main(argv) {
  const [input = "-", output = "docs/bench-qd.svg"] = argv;
  const text = readFileSync(input === "-" ? 0 : input, "utf8");
  const data = parseSweep(text);
  if (data.points.length === 0) {
    console.error("plot: no sweep lines in the input (bench/sweep.sh prints them)");
    process.exit(1);
  }
  writeFileSync(output, renderSvg(data));
  console.log(`plot: ${data.points.length} points, ${data.floors.length} floors -> ${output}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) main(process.argv.slice(2));
