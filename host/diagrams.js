#!/usr/bin/env node
// The sequence diagrams of docs/bring-up.md: one Node run with `trace=all` (the qemu profile, one
// 16 MiB namespace, a fill and a verify), its trace cut where each stage begins, one SVG per stage
// in docs/diagrams/. `make diagrams` runs this; test/trace/diagrams.test.js fails when the
// committed diagrams no longer show what the driver does.
//
//   node host/diagrams.js [DIR]      (default docs/diagrams)
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { runSim } from "./sim.js";
import { renderSvg, splitStages } from "./trace-svg.js";

// 8,192 blocks of 512 bytes are eight 512 KiB (MDTS) writes and eight reads: enough IO to be folded.
export const DIAGRAM_RUN = {
  disks: ["mem:16M"],
  cmd: "trace=all; fill nvme0n1 0 8192 7; verify nvme0n1 0 8192 7; poweroff",
};

// The file each part goes to: stage-1.svg … stage-4.svg, and stage-7.svg for IO and shutdown.
export const fileOf = (part) => `stage-${part.stage.split(" ")[1]}.svg`;

// The trace of DIAGRAM_RUN, cut into stages: [{ stage, title, records }].
export async function diagramParts() {
  const records = [];
  const r = await runSim({ ...DIAGRAM_RUN, traceRecords: records });
  if (r.code !== 0) throw new Error(`the diagram run exited with ${r.code}:\n${r.stdout ?? ""}`);
  const parts = splitStages(records);
  if (parts.some((p) => p.stage === null)) throw new Error("trace events before the first stage line");
  return parts;
}

// The SVG of one part, titled with the stage line and the run it came from.
export const svgOf = (part) =>
  renderSvg(part.records, {
    title: part.title,
    subtitle: `the trace of: nvme-wasm sim --cmd "${DIAGRAM_RUN.cmd}"`,
  });

export async function writeDiagrams(dir = "docs/diagrams") {
  mkdirSync(dir, { recursive: true });
  const parts = await diagramParts();
  for (const part of parts) writeFileSync(join(dir, fileOf(part)), svgOf(part));
  return parts.map((p) => join(dir, fileOf(p)));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  writeDiagrams(process.argv[2]).then(
    (files) => {
      for (const f of files) process.stdout.write(`${f}\n`);
    },
    (e) => {
      process.stderr.write(`diagrams: ${e.message}\n`);
      process.exit(1);
    },
  );
}
