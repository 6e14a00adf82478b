// The sequence diagrams (host/trace-svg.js, docs/diagrams/): read back with a real XML parser, every
// event of a fresh trace is in them, as the row it should be, between the lifelines it should be.
import { describe, it, expect, beforeAll } from "vitest";
import { readFileSync, existsSync } from "node:fs";
import { DOMParser } from "@xmldom/xmldom";
import { diagramParts, fileOf, svgOf } from "../../host/diagrams.js";
import { renderSvg, layoutRows, splitStages, parseJsonLines } from "../../host/trace-svg.js";
import { runSim } from "../../host/sim.js";

const LANES = { driver: 60, interrupts: 210, controller: 360 };

// The SVG as a DOM; any XML error (an attribute twice, an unescaped <) fails the test.
function parse(svg) {
  const errors = [];
  const doc = new DOMParser({ onError: (level, msg) => errors.push(`${level}: ${msg}`) }).parseFromString(
    svg,
    "image/svg+xml",
  );
  expect(errors).toEqual([]);
  expect(doc.documentElement.tagName).toBe("svg");
  return doc;
}

// Every row of the diagram, in order: { cls, seq, kind, text, lines: [[x1, x2, dashed]] } or a fold.
function rowsOf(doc) {
  const rows = [];
  const groups = doc.getElementsByTagName("g");
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i];
    const cls = g.getAttribute("class");
    const text = g.getElementsByTagName("text")[0]?.textContent ?? "";
    if (cls === "fold") {
      rows.push({
        cls,
        events: Number(g.getAttribute("data-events")),
        first: Number(g.getAttribute("data-first")),
        last: Number(g.getAttribute("data-last")),
        text,
      });
      continue;
    }
    const lines = [];
    const ls = g.getElementsByTagName("line");
    for (let k = 0; k < ls.length; k++) {
      lines.push([
        Number(ls[k].getAttribute("x1")),
        Number(ls[k].getAttribute("x2")),
        ls[k].hasAttribute("stroke-dasharray"),
      ]);
    }
    rows.push({ cls, seq: Number(g.getAttribute("data-seq")), kind: g.getAttribute("data-kind"), text, lines });
  }
  return rows;
}

// Which lifelines an arrow joins: [from, to], by its x coordinates (the head stops 2 px short).
function ends([x1, x2]) {
  const near = (x) => Object.entries(LANES).find(([, lx]) => Math.abs(lx - x) <= 2)?.[0];
  return [near(x1), near(x2)];
}

const EXPECTED_ARROWS = {
  "mmio-write": [[["driver", "controller"], false]],
  "pci-write": [[["driver", "controller"], false]],
  "mmio-read": [[["controller", "driver"], false]],
  command: [[["driver", "controller"], true]],
  completion: [[["controller", "driver"], true]],
  irq: [
    [["controller", "interrupts"], false],
    [["interrupts", "driver"], false],
  ],
  stage: [],
  quirk: [],
  reap: [],
};

// The checks shared by the committed diagrams and a fresh one: each record appears exactly once,
// shown (its decoded line, its arrows) or counted in a fold, in the trace's order.
function checkAgainstTrace(svg, records) {
  const rows = rowsOf(parse(svg));
  const bySeq = new Map(records.map((r) => [r.seq, r]));
  let next = 0;
  for (const row of rows) {
    if (row.cls === "fold") {
      expect(row.first).toBe(records[next].seq);
      expect(row.last).toBe(records[next + row.events - 1].seq);
      expect(row.text).toMatch(new RegExp(`^… ${row.events} IO events folded`));
      next += row.events;
      continue;
    }
    const r = records[next++];
    expect(row.seq).toBe(r.seq);
    expect(row.kind).toBe(r.kind);
    expect(bySeq.get(row.seq)).toBe(r);
    // The line beside the arrow is the decoder's line, less what the lifelines already say.
    const short = r.text.replace(/^mmio \S+ (read|write) /, "$1 ").replace(/^pci (\S+) write /, "config $1 ");
    expect(row.text).toBe(short);
    expect(row.lines.map((l) => [ends(l), l[2]])).toEqual(EXPECTED_ARROWS[r.kind]);
  }
  expect(next).toBe(records.length);
  return rows;
}

describe("the sequence diagrams of docs/bring-up.md", () => {
  let parts;
  beforeAll(async () => {
    parts = await diagramParts();
  });

  it("the diagram run goes through stages 1 to 4 and 7 with commands, completions and interrupts in each of 2-7", () => {
    expect(parts.map((p) => p.stage)).toEqual(["nvme0 1", "nvme0 2", "nvme0 3", "nvme0 4", "nvme0 7"]);
    for (const p of parts.slice(1)) {
      const kinds = new Set(p.records.map((r) => r.kind));
      for (const k of ["command", "completion", "irq", "mmio-write"])
        expect(kinds.has(k), `${p.stage} has ${k}`).toBe(true);
    }
  });

  it("every committed diagram shows exactly the events of a fresh trace (else: make diagrams)", () => {
    for (const part of parts) {
      const file = `docs/diagrams/${fileOf(part)}`;
      expect(existsSync(file), `${file} exists (make diagrams)`).toBe(true);
      const committed = readFileSync(file, "utf8");
      checkAgainstTrace(committed, part.records);
      expect(committed, `${file} is what make diagrams writes today`).toBe(svgOf(part));
    }
  });

  it("the IO stage's long run is folded and its first batch, doorbell and first completions stay shown", () => {
    const io = parts.at(-1);
    const rows = checkAgainstTrace(svgOf(io), io.records);
    const fold = rows.find((r) => r.cls === "fold");
    expect(fold.events).toBeGreaterThan(10);
    const shown = rows.filter((r) => r.cls === "event").map((r) => r.text);
    expect(shown.filter((t) => / SQ1 cid=\d+ Write /.test(t)).length).toBe(8);
    expect(shown).toContain("write SQ1 tail=8");
    // shutdown follows IO: CC.SHN = normal, then CSTS.SHST = complete
    expect(shown.some((t) => /^write CC = .*SHN=normal/.test(t))).toBe(true);
    expect(shown.at(-1)).toMatch(/^read CSTS = .*SHST=complete/);
  });

  it("every diagram is shown in docs/bring-up.md", () => {
    const doc = readFileSync("docs/bring-up.md", "utf8");
    for (const part of parts) expect(doc).toContain(`(diagrams/${fileOf(part)})`);
  });
});

describe("host/trace-svg.js", () => {
  const rec = (seq, kind, text) => ({ seq, ns: seq, kind, lane: "", text });

  it("folds an IO run longer than 20 events, keeping 14 before and 6 after", () => {
    const records = [rec(0, "stage", "stage nvme0 7: ready: IO")];
    for (let i = 1; i <= 40; i++)
      records.push(
        rec(
          i,
          i % 2 ? "command" : "completion",
          i % 2 ? `cmd nvme0 SQ1 cid=${i} Read` : `cpl nvme0 CQ1 cid=${i - 1} ok`,
        ),
      );
    records.push(rec(41, "mmio-read", "mmio 00:04.0 read CSTS = 0x00000001 (RDY=1)"));
    const rows = layoutRows(records);
    expect(rows.length).toBe(1 + 14 + 1 + 6 + 1);
    expect(rows[15].fold.length).toBe(40 - 20);
    expect(rows[15].fold[0].seq).toBe(15);
    checkAgainstTrace(renderSvg(records), records);
  });

  it("does not fold admin traffic, nor a run of 20 IO events", () => {
    const records = [];
    for (let i = 0; i < 30; i++) records.push(rec(i, "command", `cmd nvme0 SQ0 cid=${i} Identify`));
    for (let i = 30; i < 50; i++) records.push(rec(i, "command", `cmd nvme0 SQ1 cid=${i} Read`));
    expect(layoutRows(records).every((r) => r.event)).toBe(true);
  });

  it("escapes what XML would misread and still parses", () => {
    const records = [rec(0, "command", `cmd <&> "quoted" 'single'`)];
    const rows = checkAgainstTrace(renderSvg(records, { title: "a < b & c", subtitle: '"x"' }), records);
    expect(rows[0].text).toBe(`cmd <&> "quoted" 'single'`);
  });

  it("reads JSON lines back, refusing a line that is not a trace record with its line number", () => {
    const good = [rec(0, "stage", "stage nvme0 1: x"), rec(1, "irq", "irq lines=0x1")];
    expect(parseJsonLines(good.map((r) => JSON.stringify(r)).join("\n") + "\n\n")).toEqual(good);
    expect(() => parseJsonLines(`${JSON.stringify(good[0])}\n{"seq":1,"kind":"bogus","text":"x"}`)).toThrow(
      /line 2: not a trace record/,
    );
    expect(() => parseJsonLines("{")).toThrow(/line 1: not JSON/);
    expect(() => parseJsonLines("null")).toThrow(/line 1: not a trace record/);
  });

  it("splits at stage lines, every record in exactly one part", () => {
    const records = [rec(0, "mmio-read", "x"), rec(1, "stage", "stage nvme1 2: y"), rec(2, "irq", "z")];
    const parts = splitStages(records);
    expect(parts.map((p) => [p.stage, p.records.map((r) => r.seq)])).toEqual([
      [null, [0]],
      ["nvme1 2", [1, 2]],
    ]);
  });

  it("a stage=2 run of the sim CLI draws the same diagram as its trace", async () => {
    const records = [];
    const r = await runSim({ cmd: "trace=cmds; stage=2; poweroff", traceRecords: records });
    expect(r.code).toBe(0);
    // trace=cmds: commands, completions and stage lines only
    expect(new Set(records.map((x) => x.kind))).toEqual(new Set(["stage", "command", "completion"]));
    checkAgainstTrace(renderSvg(records), records);
  });
});
