// A sample of the shell fuzz in QEMU: the real kernel, a real NVMe disk, fuzzed commands through the
// boot command line (QEMU -append) and typed on the serial console. The checks are the simulated
// machine's (test/fuzz/fuzz.js): the guest powers off by itself, its exit code matches its error
// lines, and the image holds what the fills wrote and nothing else changed.
import { Rng } from "../../host/rng.js";
import { grammarLine, randomLine, bytesLost } from "./fuzz.js";
import { bootQemu, hasQemu, KERNEL } from "../qemu/helpers.js";
import { existsSync } from "node:fs";
import { tempDir, writeImage, readImage, noiseBytes, errorLines } from "../lib/disk-images.js";

const LINES = 100;

export async function qemuSample(runs, seed) {
  const out = { runs: 0, inputs: 0, traps: 0, hangs: 0, bytesLost: 0, failures: [], skipped: "" };
  if (!hasQemu() || !existsSync(KERNEL)) {
    out.skipped = "no QEMU or no build/kernel.elf";
    return out;
  }
  const tmp = tempDir("nvme-qemu-fuzz-");
  try {
    for (let k = 0; k < runs; k++) {
      const res = await qemuRun(seed * 31 + k, k % 2 ? "cmdline" : "prompt", tmp);
      out.runs++;
      out.inputs += res.inputs;
      out.traps += res.trap ? 1 : 0;
      out.hangs += res.hang ? 1 : 0;
      out.bytesLost += res.lost;
      if (res.problems.length) out.failures.push({ kind: "qemu", problems: res.problems, replay: res.replay });
    }
  } finally {
    tmp.remove();
  }
  return out;
}

export async function qemuRun(seed, via, tmp) {
  const rng = new Rng(seed);
  // -append cannot carry a NUL; the serial line can.
  const lines = Array.from({ length: LINES }, (_, i) =>
    (i % 3 === 0 ? randomLine(rng) : grammarLine(rng)).replace(/[\r\n]/g, " "),
  );
  const before = noiseBytes(1 << 20, seed);
  const path = writeImage(tmp.path(`q${seed}.img`), before);
  let cmd = "",
    input,
    used = 0;
  if (via === "cmdline") {
    for (const l of lines) {
      const clean = l.replace(/\0/g, "\x01");
      if (Buffer.byteLength(cmd + clean, "utf8") + 12 > 4096) break; // in bytes, as the guest sees it
      cmd += (cmd ? "; " : "") + clean;
      used++;
    }
    cmd += "; poweroff";
  } else {
    input = lines.map((l) => l + "\r").join("") + "poweroff\r";
    used = lines.length;
  }
  // discard=unmap: QEMU's default (ignore) keeps a trimmed range's data although its DLFEAT says
  // deallocated blocks read as zeroes, which is what the image check expects of `trim … ok`.
  const r = await bootQemu({ disks: [{ path, discard: "unmap" }], cmd, input, timeoutMs: 120000 });
  const after = readImage(path);
  const problems = [];
  const trap = /^trap: /m.test(r.output);
  if (r.timedOut) problems.push("hang: QEMU killed at the timeout");
  if (trap) problems.push(`trap: ${/^trap: .*/m.exec(r.output)[0]}`);
  const failed = errorLines(r.output).length > 0 || /^verify .* mismatch /m.test(r.output);
  if (!r.timedOut && !trap && (r.code === 0) === failed)
    problems.push(`exit code ${r.code} with${failed ? "" : "out"} error lines`);
  const lost = bytesLost(before, after, r.output.replace(/\r/g, ""));
  if (lost) problems.push(`${lost} bytes not what the fills wrote`);
  return { inputs: used, trap, hang: r.timedOut, lost, problems, replay: { seed, via } };
}
