#!/usr/bin/env node
// Throughput of the Node path: the real guest (build/nvme.wasm) against the controller model, one IO
// queue, 4 KiB random reads at queue depth 1 and 32 — how many the simulation runs per second of real
// time, timed from the line that ends bring-up ("nvme0 ready") to the guest's "bench" result line,
// after one warm-up run so the JIT has compiled the hot paths.
// Also prints what the guest's own `bench` reports on the model's virtual clock, and the .wasm size.
// A benchmark: it prints figures and never fails on a time.
//   node bench/node-throughput.js [--profile qemu] [--ios 20000] [--repeat 3]
import { statSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { runSim } from "../host/sim.js";
import { buildWasm } from "../host/build.js";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const profile = opt("profile", "qemu");
const ios = Number(opt("ios", "20000"));
const repeat = Number(opt("repeat", "3"));
const wasm = await buildWasm({ quiet: true });
console.log(`wasm: build/nvme.wasm ${statSync(wasm).size} bytes`);

async function timed(qd, n) {
  let text = "";
  let readyAt = 0,
    benchAt = 0;
  const stdout = (bytes) => {
    text += Buffer.from(bytes).toString("latin1");
    if (!readyAt && /^nvme0 ready/m.test(text)) readyAt = performance.now();
    if (!benchAt && /^bench /m.test(text)) benchAt = performance.now();
  };
  const r = await runSim({
    profile,
    seed: 1,
    disks: ["mem:64M"],
    stdout,
    cmd: `irq=msix; bench nvme0n1 read 8 ${qd} ${n}; poweroff`,
  });
  if (r.code !== 0) throw new Error(`bench run failed:\n${r.output}`);
  const line = text.split("\n").find((l) => l.startsWith("bench "));
  return { ms: benchAt - readyAt, line };
}

for (const qd of [1, 32]) {
  const rates = [];
  let guestLine = "";
  for (let k = 0; k < repeat; k++) {
    if (k === 0) await timed(qd, 2000); // warm-up
    const long = await timed(qd, ios);
    rates.push((ios * 1000) / long.ms);
    guestLine = long.line;
  }
  rates.sort((a, b) => a - b);
  const median = rates[Math.floor(rates.length / 2)];
  console.log(
    `node-sim profile=${profile} op=randread block_bytes=4096 qd=${qd} ios=${ios} wall_iops_median=${Math.round(median)} wall_iops_runs=${rates.map((r) => Math.round(r)).join(",")}`,
  );
  console.log(`  guest, on the model's virtual clock: ${guestLine}`);
}
