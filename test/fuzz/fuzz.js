// Fuzzing the shell and soaking the driver under faults, on the simulated machine (test/fuzz/fuzz.test.js
// runs a little of each with `make test`; `make soak` runs them long through test/fuzz/soak.js).
//
// Shell fuzz: lines from a grammar of the command language (commands with arguments of every shape:
// numbers spelled every way, valid and aliased device names, seeds in and out of range) and random
// lines (printable and control bytes, ';', '=', over-long lines), fed through the boot command line
// and through the interactive prompt. A run passes when the guest powered off by itself (no trap, no
// hang), the model saw no host violation and no DMA outside the window, the exit code is 0 exactly
// when no error line or mismatch was printed, and the image holds exactly what the `fill … ok`
// lines wrote and zeroes where `zero … ok` and `trim … ok` lines say (every profile here reads
// deallocated blocks as zeroes), every other byte as it was.
//
// Fault soak: seeded runs over the model's profiles with media errors, dropped commands, fatal
// controller status and slow completions injected, random fills, zeroes, trims, verifies and crcs;
// afterwards every byte a `fill … ok` (or `zero`/`trim … ok`) wrote and nothing later touched is on
// the image, every byte nothing touched is as it was.
import { runSim } from "../../host/sim.js";
import { Rng } from "../../host/rng.js";
import { tempDir, writeImage, readImage, noiseBytes, patternBytes, linesOf, errorLines } from "../lib/disk-images.js";

const DISK_BYTES = 1 << 20; // 2048 blocks of 512 bytes
const BLOCK = 512;
const PROFILES = ["qemu", "strict", "legacy", "tiny"];
const TIME_LIMIT_NS = 3_600_000_000_000n; // an hour of virtual time: a run past it is a hang

const below = (rng, n) => rng.int(0, n - 1); // an integer in [0, n)
const pick = (rng, list) => list[below(rng, list.length)];

// ---- the grammar ----

function numberWord(rng, max = 5000) {
  const v = below(rng, max);
  switch (below(rng, 9)) {
    case 0:
      return "0".repeat(1 + below(rng, 30)) + v; // leading zeros
    case 1:
      return "0x" + v.toString(16);
    case 2:
      return "0X" + "0".repeat(below(rng, 20)) + v.toString(16).toUpperCase();
    case 3:
      return pick(rng, [
        "18446744073709551615",
        "18446744073709551616",
        "0x10000000000000000",
        "-1",
        "",
        "0x",
        "1e3",
        "12a",
      ]);
    case 4:
      return String(below(rng, 1 << 30));
    default:
      return String(v);
  }
}

function deviceWord(rng) {
  return pick(rng, [
    "nvme0n1",
    "nvme0n1",
    "nvme0n1",
    "nvme0n2",
    "nvme1n1",
    "nvme00n1",
    "nvme0n01",
    "nvme0",
    "nvme",
    "nvme0n",
    "sda",
    "nvme0n1p1",
  ]);
}

// A PATH word of ls, cat and sum: plain, quoted with blanks, unclosed, empty, long.
function pathWord(rng) {
  return pick(rng, [
    "/",
    "/x",
    "x/y",
    "//",
    '"/a b"',
    '"/a b/c d.txt"',
    '"unclosed',
    '""',
    '"/x"y',
    "/" + "n".repeat(below(rng, 300)),
    "/../..",
    "/.",
  ]);
}

function argumentWord(rng, cmd, index) {
  if (index === 0) return deviceWord(rng);
  if (index === 1 && (cmd === "ls" || cmd === "cat" || cmd === "sum")) return pathWord(rng);
  if (cmd === "bench") {
    if (index === 1) return pick(rng, ["read", "write", "rw", "8"]);
    return numberWord(rng, index === 4 ? 60 : 40); // IOS kept small: a run must end
  }
  if (index === 3 && (cmd === "fill" || cmd === "verify"))
    return pick(rng, [numberWord(rng, 100), "16777215", "16777216", "33554431"]);
  return numberWord(rng, index === 2 ? 3000 : 2200);
}

export function grammarLine(rng) {
  const cmd = pick(rng, [
    "help",
    "info",
    "read",
    "crc",
    "fill",
    "verify",
    "flush",
    "bench",
    "stats",
    "crc",
    "fill",
    "verify",
    "zero",
    "trim",
    "stage=2",
    "irq=msix",
    "dbbuf=on",
    "sgl=off",
    "frob",
    "poweroff now",
    "READ",
    "parts",
    "ls",
    "cat",
    "sum",
  ]);
  const words = [cmd];
  const args =
    below(rng, 10) === 0
      ? below(rng, 9)
      : ({
          read: 3,
          crc: 3,
          fill: 4,
          verify: 4,
          zero: 3,
          trim: 3,
          flush: 1,
          bench: 1 + below(rng, 5),
          parts: 1,
          ls: 2,
          cat: 2,
          sum: 2,
        }[cmd] ?? below(rng, 2));
  for (let i = 0; i < args; i++) words.push(argumentWord(rng, cmd, i));
  return words.join(pick(rng, [" ", " ", "  ", "\t"]));
}

// Random bytes: mostly printable, sometimes control or non-ASCII, sometimes very long. Never a
// command that ends the session: "poweroff" is taken out.
export function randomLine(rng) {
  const length = below(rng, 10) === 0 ? 400 + below(rng, 700) : below(rng, 60);
  const bytes = [];
  for (let i = 0; i < length; i++) {
    const k = below(rng, 40);
    if (k === 0)
      bytes.push(below(rng, 32)); // control byte
    else if (k === 1)
      bytes.push(128 + below(rng, 128)); // outside ASCII
    else if (k < 5)
      bytes.push(pick(rng, [59, 61, 32, 48, 120])); // ; = space 0 x
    else bytes.push(32 + below(rng, 95));
  }
  return Buffer.from(bytes)
    .toString("latin1")
    .replace(/poweroff/g, "powerof");
}

// ---- checking a run against the image ----

// The image the run should have left: `before`, with every `fill … ok`, `zero … ok` and `trim … ok`
// applied in order (the profiles here read deallocated blocks as zeroes). Failed ones leave their
// range unknown (a command may have written part of it) until a later ok one.
function expectedImage(before, output) {
  const image = Buffer.from(before);
  const unknown = new Uint8Array(before.length / BLOCK);
  for (const line of output.split("\n")) {
    let m = /^fill dev=nvme0n1 lba=(\d+) count=(\d+) seed=(\d+) ok$/.exec(line);
    if (m) {
      const [lba, count, seed] = [Number(m[1]), Number(m[2]), BigInt(m[3])];
      patternBytes(seed, lba * BLOCK, count * BLOCK).copy(image, lba * BLOCK);
      unknown.fill(0, lba, lba + count);
      continue;
    }
    m = /^(?:zero|trim) dev=nvme0n1 lba=(\d+) count=(\d+) ok(?: method=write)?$/.exec(line);
    if (m) {
      const [lba, count] = [Number(m[1]), Number(m[2])];
      image.fill(0, lba * BLOCK, (lba + count) * BLOCK);
      unknown.fill(0, lba, lba + count);
      continue;
    }
    m = /^error: (?:fill|zero|trim|bench) dev=nvme0n1 lba=(\d+) count=(\d+)(?: seed=\d+)?: at lba=/.exec(line);
    if (m) unknown.fill(1, Number(m[1]), Number(m[1]) + Number(m[2]));
    if (/^error: bench dev=nvme0n1 .*: at lba=/.test(line)) unknown.fill(1); // random writes: anywhere
    if (/^bench dev=nvme0n1 op=write/.test(line)) unknown.fill(1); // random writes: anywhere
  }
  return { image, unknown };
}

// Bytes of known blocks that differ from what they should hold.
export function bytesLost(before, after, output) {
  const { image, unknown } = expectedImage(before, output);
  let lost = 0;
  for (let b = 0; b < unknown.length; b++) {
    if (unknown[b]) continue;
    for (let i = b * BLOCK; i < (b + 1) * BLOCK; i++) if (image[i] !== after[i]) lost++;
  }
  return lost;
}

// What is wrong with a finished run, in words; [] when nothing.
function problems(r, before, after) {
  const out = [];
  if (r.reason !== "poweroff") out.push(r.reason === "trap" ? `trap: ${r.trap}` : `ended by ${r.reason}`);
  const violations = r.machine.controllers.flatMap((c) => c.violations ?? []);
  if (violations.length) out.push(`model violations: ${violations.slice(0, 3).join("; ")}`);
  if (r.machine.dmaFaults.length) out.push(`${r.machine.dmaFaults.length} DMA faults`);
  const failed = errorLines(r.output).length > 0 || /^verify .* mismatch /m.test(r.output);
  if (r.reason === "poweroff" && (r.code === 0) === failed)
    out.push(`exit code ${r.code} with${failed ? "" : "out"} error lines`);
  const lost = bytesLost(before, after, r.output);
  if (lost) out.push(`${lost} bytes not what the fills wrote`);
  return out;
}

// ---- the runs ----

async function runOnImage(tmp, name, opts, before) {
  const path = writeImage(tmp.path(name), before);
  const r = await runSim({ disks: [path], capture: true, timeLimitNs: TIME_LIMIT_NS, ...opts });
  return { r, after: readImage(path) };
}

// One shell-fuzz run of `lines` inputs, through the command line or the prompt. Returns
// { inputs, problems, replay }.
export async function shellRun(seed, lines, { via = "prompt", tmp }) {
  const rng = new Rng(seed);
  const input = Array.from({ length: lines }, () => (below(rng, 3) === 0 ? randomLine(rng) : grammarLine(rng)));
  const before = noiseBytes(DISK_BYTES, seed);
  let opts;
  let used = input.length;
  if (via === "cmdline") {
    let cmd = "";
    used = 0;
    for (const l of input) {
      if (Buffer.byteLength(cmd + l, "utf8") + 12 > 4096) break; // in bytes as the guest sees them, room for "; poweroff"
      cmd += (cmd ? "; " : "") + l.replace(/[\r\n]/g, " ");
      used++;
    }
    opts = { cmd: cmd + (below(rng, 2) ? "; poweroff" : ""), input: "" };
  } else {
    opts = { cmd: "", input: input.map((l) => l.replace(/[\r\n]/g, " ") + "\r").join("") };
  }
  const profile = pick(rng, PROFILES);
  const { r, after } = await runOnImage(tmp, `fuzz-${seed}.img`, { ...opts, profile, seed }, before);
  return { inputs: used, problems: problems(r, before, after), replay: { seed, lines, via, profile } };
}

// One fault-soak run: a seeded profile, faults and sequence of fills, verifies and crcs.
export async function soakRun(seed, { tmp }) {
  const rng = new Rng(seed);
  const profile = pick(rng, PROFILES);
  const faults = {
    errorRate: below(rng, 3) === 0 ? 0 : below(rng, 200) / 1000,
    dropRate: below(rng, 3) === 0 ? 0 : below(rng, 20) / 1000,
    slowRate: below(rng, 4) === 0 ? below(rng, 300) / 1000 : 0,
    slowNs: 1_000_000 + below(rng, 50_000_000),
  };
  if (below(rng, 6) === 0) faults.cfsAfter = below(rng, 200);
  const cmds = [];
  for (let i = 0; i < 6 + below(rng, 10); i++) {
    const op = pick(rng, ["fill", "fill", "verify", "crc", "zero", "trim"]);
    const lba = below(rng, 2000);
    const count = 1 + below(rng, Math.min(2048 - lba, below(rng, 2) ? 64 : 2048));
    const seeded = op === "fill" || op === "verify";
    cmds.push(seeded ? `${op} nvme0n1 ${lba} ${count} ${below(rng, 1 << 24)}` : `${op} nvme0n1 ${lba} ${count}`);
  }
  // Shadow doorbells and SGLs each on or off (drawn last, so the rest of a seed's run is as before).
  const options = `dbbuf=${below(rng, 2) ? "on" : "off"}; sgl=${below(rng, 2) ? "on" : "off"}; `;
  const cmd = options + cmds.join("; ") + "; stats; poweroff";
  const before = noiseBytes(DISK_BYTES, seed ^ 0x5eed);
  const { r, after } = await runOnImage(tmp, `soak-${seed}.img`, { cmd, profile, seed, faults }, before);
  const found = problems(r, before, after).filter((p) => !p.startsWith("exit code")); // faults make failures expected
  return { problems: found, replay: { seed, profile, faults, cmd } };
}

// Many runs; a summary with every failing run's replay.
export async function campaign({ shellInputs = 0, linesPerRun = 100, soakRuns = 0, seed = 1, onProgress = () => {} }) {
  const tmp = tempDir("nvme-fuzz-");
  const summary = { inputs: 0, shellRuns: 0, soakRuns: 0, traps: 0, hangs: 0, bytesLost: 0, failures: [] };
  const note = (kind, res) => {
    for (const p of res.problems) {
      if (/watchdog/.test(p) || p.startsWith("ended by")) summary.hangs++;
      else if (p.startsWith("trap:")) summary.traps++;
      const lost = /^(\d+) bytes not/.exec(p);
      if (lost) summary.bytesLost += Number(lost[1]);
    }
    if (res.problems.length) summary.failures.push({ kind, problems: res.problems, replay: res.replay });
  };
  try {
    for (let k = 0; summary.inputs < shellInputs; k++) {
      const res = await shellRun(seed * 100003 + k, linesPerRun, { via: k % 2 ? "cmdline" : "prompt", tmp });
      summary.inputs += res.inputs;
      summary.shellRuns++;
      note("shell", res);
      onProgress(summary);
    }
    for (let k = 0; k < soakRuns; k++) {
      const res = await soakRun(seed * 7919 + k, { tmp });
      summary.soakRuns++;
      note("soak", res);
      onProgress(summary);
    }
  } finally {
    tmp.remove();
  }
  return summary;
}
