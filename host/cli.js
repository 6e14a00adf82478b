#!/usr/bin/env node
// nvme-wasm: run the NVMe driver (build/nvme.wasm) on a simulated machine.
import { pathToFileURL } from "node:url";

export const USAGE = `usage: nvme-wasm sim [options]
       nvme-wasm --help

Runs the AssemblyScript NVMe driver (build/nvme.wasm, built when missing or stale) on a simulated PC
with software NVMe controllers. Without --cmd the driver's shell runs on this terminal (Ctrl-\\ or
Ctrl-C twice leaves it). Exit status 0 only when the driver powers off with code 0.

options:
  --disk SPEC         a namespace; repeat for more (default: mem:16M). SPEC is
                        FILE[,lba=512|4096|…][,ms=BYTES][,ro][,zoned][,ctrl=K]   a raw image, changes written back
                        mem:SIZE[,…]                                     in memory (SIZE like 64M, 1G)
                      ctrl=K puts it on controller nvmeK (namespaces are numbered 1.. per controller)
  --profile NAME      controller profile: qemu (default), strict, legacy, tiny
  --set K=V[,K=V…]    override profile fields, e.g. --set mdts=2,mqes=15
  --seed N            seed for every delay, reordering and fault (default 1)
  --controllers N     at least N controllers (default: as many as the disks' ctrl= need)
  --bridge            put the controllers behind a PCIe root port (00:03.0, bus 1)
  --multifunction     two controllers as functions 0 and 1 of one device (00:04.0, 00:04.1)
  --fault K=V[,…]     inject faults, e.g. error=0.01,drop=0.001,cfs=500 (cfs_repeat=1: CFS again after every reset)
  --trace             trace MMIO, config writes, interrupts and the model to stderr
  --cmd "A; B; …"     the boot command line, e.g. "info; crc nvme0n1 0 2048; poweroff"
  --wasm FILE         run this module instead of build/nvme.wasm (e.g. a debug build)
  -h, --help          this text
`;

export class UsageError extends Error {}

// argv (after the program name) -> options for runSim, or { help: true }
export function parseArgs(argv) {
  const args = [...argv];
  if (args.length === 0) throw new UsageError("missing command (try: nvme-wasm sim --cmd \"info; poweroff\")");
  const first = args.shift();
  if (first === "-h" || first === "--help" || first === "help") return { help: true };
  if (first !== "sim") throw new UsageError(`unknown command "${first}" (the only one is "sim")`);
  const opts = { disks: [], overrides: {}, faults: {}, seed: 1, profile: "qemu", bridge: false, multifunction: false, trace: false, cmd: null };
  const takesValue = new Set(["--disk", "--profile", "--set", "--seed", "--fault", "--cmd", "--controllers", "--wasm"]);
  while (args.length) {
    let a = args.shift();
    let value;
    const eq = a.indexOf("=");
    if (a.startsWith("--") && eq > 0 && takesValue.has(a.slice(0, eq))) { value = a.slice(eq + 1); a = a.slice(0, eq); }
    const need = () => {
      if (value !== undefined) return value;
      if (!args.length) throw new UsageError(`${a} needs a value`);
      return args.shift();
    };
    switch (a) {
      case "-h": case "--help": return { help: true };
      case "--disk": opts.disks.push(need()); break;
      case "--profile": opts.profile = need(); break;
      case "--set": Object.assign(opts.overrides, parsePairs(need(), "--set")); break;
      case "--fault": Object.assign(opts.faults, parsePairs(need(), "--fault")); break;
      case "--seed": {
        const v = need();
        if (!/^\d+$/.test(v)) throw new UsageError(`--seed wants a non-negative integer, got "${v}"`);
        opts.seed = Number(v);
        break;
      }
      case "--controllers": {
        const v = need();
        if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 16) throw new UsageError(`--controllers wants 1..16, got "${v}"`);
        opts.controllers = Number(v);
        break;
      }
      case "--cmd": opts.cmd = need(); break;
      case "--wasm": opts.wasm = need(); break;
      case "--bridge": opts.bridge = true; break;
      case "--multifunction": opts.multifunction = true; break;
      case "--trace": opts.trace = true; break;
      default:
        throw new UsageError(a.startsWith("-") ? `unknown option ${a}` : `unexpected argument "${a}"`);
    }
  }
  if (opts.disks.length === 0) opts.disks.push("mem:16M");
  return opts;
}

function parsePairs(text, what) {
  const out = {};
  for (const part of text.split(",")) {
    const s = part.trim();
    if (!s) continue;
    const eq = s.indexOf("=");
    if (eq <= 0) throw new UsageError(`${what}: "${s}" is not KEY=VALUE`);
    out[s.slice(0, eq)] = s.slice(eq + 1);
  }
  if (!Object.keys(out).length) throw new UsageError(`${what}: nothing given`);
  return out;
}

export async function main(argv = process.argv.slice(2)) {
  let opts;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`nvme-wasm: ${e.message}\n${USAGE.split("\n")[0]}\nTry 'nvme-wasm --help'.\n`);
    return 2;
  }
  if (opts.help) { process.stdout.write(USAGE); return 0; }
  const { runSim } = await import("./sim.js");
  const { parseDiskSpec } = await import("./disk.js");
  try {
    for (const d of opts.disks) parseDiskSpec(d);
    if (opts.faults && Object.keys(opts.faults).length) {
      const { parseFaults } = await import("./sim.js");
      parseFaults(Object.entries(opts.faults).map(([k, v]) => `${k}=${v}`).join(","));
    }
  } catch (e) {
    process.stderr.write(`nvme-wasm: ${e.message}\n`);
    return 2;
  }
  let result;
  try {
    result = await runSim({
      disks: opts.disks, profile: opts.profile, overrides: opts.overrides, seed: opts.seed,
      cmd: opts.cmd ?? "", input: "stdin", bridge: opts.bridge, multifunction: opts.multifunction,
      controllers: opts.controllers, faults: Object.fromEntries(Object.entries(opts.faults).map(([k, v]) => [k, Number(v)])),
      trace: opts.trace, wasm: opts.wasm, capture: false,
      stdout: (bytes) => process.stdout.write(bytes),
      stderr: (s) => process.stderr.write(s),
    });
  } catch (e) {
    process.stderr.write(`nvme-wasm: ${e.message}\n`);
    return e.setup ? 2 : 1;
  }
  return result.code;
}

// Run when executed directly (also through the npm bin link, a symlink: compare real paths).
import { realpathSync } from "node:fs";
const self = (() => { try { return pathToFileURL(realpathSync(process.argv[1] ?? "")).href; } catch { return ""; } })();
if (import.meta.url === self) {
  main().then(
    (code) => { process.stdout.write("", () => process.exit(code)); },
    (e) => { process.stderr.write(`nvme-wasm: ${e.stack ?? e}\n`); process.exit(1); },
  );
}
