// A trace as an SVG sequence diagram (docs/trace.md): three lifelines — the driver, the interrupt
// controller, the NVMe controller — with an arrow for every event (register reads and writes,
// doorbells, commands, completions, interrupts), the decoded line beside it, a band where each
// bring-up stage begins, and long runs of IO folded into one row.
//
//   import { renderSvg } from "./trace-svg.js";
//   const svg = renderSvg(records, { title: "stage 2" });   // records: host/trace.js's, or JSON lines
//
// Each event row is a <g class="event" data-seq=… data-kind=…> whose <text> is the decoded line, so
// a test can read the diagram back with an XML parser and compare it with the trace.

const ROW = 18; // px per event row
const TOP = 92; // px above the first row: title, legend and lifeline heads
const LANE = { driver: 60, interrupts: 210, controller: 360 };
const TEXT_X = 400;
const CHAR_PX = 6.6; // 11 px monospace
const FOLD_AFTER = 14; // IO events shown before a run is folded (a batch and its doorbell)
const FOLD_KEEP_END = 6; // and after it
const font = (px = 11) => `font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="${px}"`;

const escape = (s) =>
  String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

// Events of the IO queues (a command or completion on queue 1 and up, its doorbells, interrupts in
// between): what a long run is made of.
function isIo(r) {
  if (r.kind === "command" || r.kind === "completion") return / [SC]Q[1-9]\d* /.test(r.text);
  if (r.kind === "mmio-write") return /write [SC]Q[1-9]\d* (tail|head)=/.test(r.text);
  return r.kind === "irq" || r.kind === "reap";
}

// The rows: events, with runs of more than FOLD_AFTER + FOLD_KEEP_END IO events folded.
export function layoutRows(records) {
  const rows = [];
  for (let i = 0; i < records.length;) {
    let j = i;
    while (j < records.length && isIo(records[j])) j++;
    const run = j - i;
    if (run > FOLD_AFTER + FOLD_KEEP_END + 1) {
      for (let k = i; k < i + FOLD_AFTER; k++) rows.push({ event: records[k] });
      const folded = records.slice(i + FOLD_AFTER, j - FOLD_KEEP_END);
      rows.push({ fold: folded });
      for (let k = j - FOLD_KEEP_END; k < j; k++) rows.push({ event: records[k] });
      i = j;
      continue;
    }
    rows.push({ event: records[i] });
    i++;
  }
  return rows;
}

// The label beside an arrow: the decoded line without what the lanes already say.
function label(r) {
  return r.text.replace(/^mmio \S+ (read|write) /, "$1 ").replace(/^pci (\S+) write /, "config $1 ");
}

function arrow(y, from, to, dashed) {
  const x1 = LANE[from],
    x2 = LANE[to];
  const dir = x2 > x1 ? -1 : 1;
  return (
    `<line x1="${x1}" y1="${y}" x2="${x2 + dir * 2}" y2="${y}" stroke="#333" stroke-width="1.2"${dashed ? ' stroke-dasharray="4 3"' : ""}/>` +
    `<path d="M${x2 + dir * 2} ${y} l${dir * 7} -3.5 l0 7 z" fill="#333"/>`
  );
}

// Arrows of one event: who talks to whom.
function arrows(r, y) {
  switch (r.kind) {
    case "mmio-write":
    case "pci-write":
    case "command":
      return arrow(y, "driver", "controller", r.kind === "command");
    case "mmio-read":
      return arrow(y, "controller", "driver", false);
    case "completion":
      return arrow(y, "controller", "driver", true);
    case "irq":
      return arrow(y, "controller", "interrupts", false) + arrow(y, "interrupts", "driver", false);
  }
  return "";
}

const COLOR = {
  "mmio-write": "#1f4e8c",
  "mmio-read": "#1f4e8c",
  "pci-write": "#6b3fa0",
  command: "#0b6e4f",
  completion: "#0b6e4f",
  irq: "#a0522d",
  reap: "#a0522d",
};

function eventRow(r, y) {
  const tag = `data-seq="${r.seq}" data-kind="${escape(r.kind)}"`;
  if (r.kind === "stage") {
    return (
      `<g class="stage" ${tag}><rect x="8" y="${y - 8}" width="100%" height="${ROW - 3}" fill="#f3efe0"/>` +
      `<text x="14" y="${y + 4}" ${font()} font-weight="bold" fill="#5a4a00">${escape(r.text)}</text></g>`
    );
  }
  if (r.kind === "quirk") {
    // the driver acting on a controller's quirk: a note on its lifeline
    return (
      `<g class="event" ${tag}><rect x="${LANE.driver - 6}" y="${y - 6}" width="12" height="12" fill="#c0392b"/>` +
      `<text x="${TEXT_X}" y="${y + 4}" ${font()} font-weight="bold" fill="#c0392b">${escape(label(r))}</text></g>`
    );
  }
  return `<g class="event" ${tag}>${arrows(r, y)}<text x="${TEXT_X}" y="${y + 4}" ${font()} fill="${COLOR[r.kind] ?? "#333"}">${escape(label(r))}</text></g>`;
}

function foldRow(folded, y) {
  const commands = folded.filter((r) => r.kind === "command").length;
  const completions = folded.filter((r) => r.kind === "completion").length;
  const irqs = folded.filter((r) => r.kind === "irq").length;
  const text = `… ${folded.length} IO events folded: ${commands} commands, ${completions} completions, ${irqs} interrupts, and their reaps and doorbells …`;
  return (
    `<g class="fold" data-events="${folded.length}" data-first="${folded[0].seq}" data-last="${folded.at(-1).seq}">` +
    `<text x="${TEXT_X}" y="${y + 4}" ${font()} font-style="italic" fill="#777">${escape(text)}</text></g>`
  );
}

// title: the first line; subtitle: a second, smaller one (e.g. the run the trace came from).
export function renderSvg(records, { title = "trace", subtitle = "" } = {}) {
  const rows = layoutRows(records);
  const longest = Math.max(60, ...records.map((r) => label(r).length));
  const width = Math.ceil(
    Math.max(
      TEXT_X + 20 + longest * CHAR_PX,
      30 + ((title.length * 13) / 11) * CHAR_PX,
      30 + subtitle.length * CHAR_PX,
    ),
  );
  const height = TOP + rows.length * ROW + 24;
  const heads = Object.entries({ driver: "driver", interrupts: "interrupt controller", controller: "NVMe controller" })
    .map(
      ([k, name]) =>
        `<text x="${LANE[k]}" y="${TOP - 14}" ${font()} text-anchor="middle" font-weight="bold">${name}</text>` +
        `<line x1="${LANE[k]}" y1="${TOP - 8}" x2="${LANE[k]}" y2="${height - 12}" stroke="#bbb" stroke-width="1"/>`,
    )
    .join("\n");
  const body = rows
    .map((row, i) => {
      const y = TOP + i * ROW + ROW / 2;
      return row.fold ? foldRow(row.fold, y) : eventRow(row.event, y);
    })
    .join("\n");
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
<rect width="100%" height="100%" fill="#fff"/>
<text x="14" y="20" ${font(13)} font-weight="bold">${escape(title)}</text>
<text x="14" y="36" ${font()} fill="#333">${escape(subtitle)}</text>
<text x="14" y="52" ${font(10)} fill="#555">solid: a register read or write, a configuration write; dashed: a queue entry in memory (command, completion); through the interrupt controller: an interrupt</text>
${heads}
${body}
</svg>
`;
}

// The records cut where each stage begins: [{ stage: "nvme0 1", title, records }], every record in
// exactly one part (events before the first stage line, if any, make a part with stage null).
export function splitStages(records) {
  const parts = [];
  for (const r of records) {
    if (r.kind === "stage" || parts.length === 0) {
      const m = r.kind === "stage" ? /^stage (\S+ \d+): (.*)$/.exec(r.text) : null;
      parts.push({ stage: m ? m[1] : null, title: m ? r.text : "before the first stage", records: [] });
    }
    parts.at(-1).records.push(r);
  }
  return parts;
}

// JSON lines (nvme-wasm sim --trace-json) back into records.
// Anything else — a line that is not JSON, a record without its fields, an unknown kind — is an
// error naming the line.
export const KINDS = ["stage", "quirk", "mmio-read", "mmio-write", "pci-write", "command", "completion", "irq", "reap"];
export function parseJsonLines(text) {
  const records = [];
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    let r;
    try {
      r = JSON.parse(line);
    } catch {
      throw new Error(`line ${i + 1}: not JSON`);
    }
    if (
      r === null ||
      typeof r !== "object" ||
      !Number.isInteger(r.seq) ||
      typeof r.text !== "string" ||
      !KINDS.includes(r.kind)
    ) {
      throw new Error(
        `line ${i + 1}: not a trace record ({ seq, ns, kind, lane, text }, kind one of ${KINDS.join(" ")})`,
      );
    }
    records.push(r);
  });
  return records;
}
