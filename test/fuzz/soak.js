#!/usr/bin/env node
// The long fuzz and soak (`make soak`): by default 100,000 shell inputs and 1,000 seeded fault runs
// on the simulated machine, then a sample of fuzzed commands in QEMU when it is installed. Prints the
// figures, and every failing run with what replays it; exits 1 if any run failed.
//   node test/fuzz/soak.js [--inputs N] [--runs N] [--seed N] [--qemu N]
import { campaign } from "./fuzz.js";
import { qemuSample } from "./qemu-sample.js";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const inputs = opt("inputs", 100000),
  runs = opt("runs", 1000),
  seed = opt("seed", Date.now() % 100000),
  qemuRuns = opt("qemu", 20);
const t0 = Date.now();
let last = 0;
const summary = await campaign({
  shellInputs: inputs,
  linesPerRun: 200,
  soakRuns: runs,
  seed,
  onProgress: (s) => {
    if (Date.now() - last < 10000) return;
    last = Date.now();
    process.stderr.write(
      `soak: ${s.inputs} inputs, ${s.soakRuns} fault runs, ${s.failures.length} failing, ${Math.round((Date.now() - t0) / 1000)} s\n`,
    );
  },
});
const q = await qemuSample(qemuRuns, seed);
const secs = Math.round((Date.now() - t0) / 1000);
console.log(
  `soak seed=${seed}: sim: ${summary.inputs} shell inputs in ${summary.shellRuns} runs, ${summary.soakRuns} seeded fault runs; ` +
    `qemu: ${q.inputs} shell inputs in ${q.runs} boots${q.skipped ? ` (${q.skipped})` : ""}; ` +
    `traps=${summary.traps + q.traps} hangs=${summary.hangs + q.hangs} bytes_lost=${summary.bytesLost + q.bytesLost} failing_runs=${summary.failures.length + q.failures.length} seconds=${secs}`,
);
for (const f of [...summary.failures, ...q.failures])
  console.log(`failing ${f.kind} run: ${f.problems.join("; ")}\n  replay: ${JSON.stringify(f.replay)}`);
process.exit(summary.failures.length + q.failures.length ? 1 : 0);
