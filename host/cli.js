#!/usr/bin/env node
// nvme-wasm: run the NVMe driver (build/nvme.wasm) on a simulated machine.
import { pathToFileURL } from "node:url";
import { parseArgs as utilParseArgs } from "node:util";
import { profileHelp } from "./nvme/profiles.js";

export const USAGE = `usage: nvme-wasm sim [options]
       nvme-wasm svg TRACE.jsonl OUT.svg [--title TEXT]
       nvme-wasm --help

Runs the AssemblyScript NVMe driver (build/nvme.wasm, built when missing or stale) on a simulated PC
with software NVMe controllers. Without --cmd the driver's shell runs on this terminal (Ctrl-\\ or
Ctrl-C twice leaves it). Exit status 0 only when the driver powers off with code 0.

options:
  --disk SPEC         a namespace; repeat for more (default: mem:16M). SPEC is
                        FILE[,lba=512|4096|…][,ms=BYTES][,ro][,zoned][,ctrl=K]   a raw image, changes written back
                        mem:SIZE[,…]                                     in memory (SIZE like 64M, 1G)
                      ctrl=K puts it on controller nvmeK (namespaces are numbered 1.. per controller)
  --profile NAME      controller profile (default qemu): see "profiles" below
  --set K=V[,K=V…]    override profile fields, e.g. --set mdts=2,mqes=15
  --seed N            seed for every delay, reordering and fault (default 1)
  --controllers N     at least N controllers (default: as many as the disks' ctrl= need)
  --bridge            put the controllers behind a PCIe root port (00:03.0, bus 1)
  --multifunction     two controllers as functions 0 and 1 of one device (00:04.0, 00:04.1)
  --fault K=V[,…]     inject faults, e.g. error=0.01,drop=0.001,cfs=500 (cfs_repeat=1: CFS again after every reset;
                        drop_after=N: only the IO command after the first N is dropped, once;
                        abort_ignored=1: Abort frees nothing, so a dropped command takes a reset)
  --trace             the host's own debugging trace to stderr (raw MMIO, config, interrupts, model)
  --trace-json FILE   write every event of a trace= run as JSON lines (docs/trace.md), e.g.
                        --cmd "trace=all; stage=2; poweroff" --trace-json stage2.jsonl
  --trace-svg FILE    draw that trace as an SVG sequence diagram (or later: nvme-wasm svg)
  --dma-base HEX      the DMA window's bus address (default 0x123456000), 4 KiB aligned; e.g.
                        0x1000000000000 puts it above 2^48 (see amazon-ebs)
  --cmd "A; B; …"     the boot command line, e.g. "info; crc nvme0n1 0 2048; poweroff"
  --console MODE      tty: a person types at the prompt (line editing, history, Tab, Ctrl-C stops a
                        command, typed errors do not fail the run); script: input is read as it comes;
                        auto (default): tty when standard input is a terminal. Adds console=tty to the
                        boot command line (docs/shell.md)
  --wasm FILE         run this module instead of build/nvme.wasm (e.g. a debug build)
  -h, --help          this text

profiles (--profile NAME), each with where its facts come from; qemu, strict, legacy, tiny and msi-only carry
real ids but invented behaviour, the others reproduce a real controller's documented quirks or figures
(host/nvme/profiles.js says which fields no public report gave):
${profileHelp("  ")}

nvme-wasm svg draws a trace written by --trace-json as an SVG sequence diagram: lifelines for the
driver, the interrupt controller and the NVMe controller, an arrow per event, a band where each
stage begins, long runs of IO folded.
`;

export class UsageError extends Error {}

// The sim options, for node:util's parseArgs: the value-taking ones are strings, several may repeat.
const SIM_OPTIONS = {
  disk: { type: "string", multiple: true },
  profile: { type: "string" },
  set: { type: "string", multiple: true },
  seed: { type: "string" },
  fault: { type: "string", multiple: true },
  cmd: { type: "string" },
  controllers: { type: "string" },
  wasm: { type: "string" },
  "dma-base": { type: "string" },
  "trace-json": { type: "string" },
  "trace-svg": { type: "string" },
  console: { type: "string" },
  bridge: { type: "boolean" },
  multifunction: { type: "boolean" },
  trace: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

// node:util's parse errors in this CLI's words.
function usageError(e) {
  const name = /'(-[^' ]+)/.exec(e.message)?.[1] ?? "?";
  if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return new UsageError(`unknown option ${name}`);
  if (e.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    return new UsageError(
      /does not take an argument/.test(e.message) ? `${name} takes no value` : `${name} needs a value`,
    );
  }
  return new UsageError(e.message);
}

// argv (after the program name) -> options for runSim, or { help: true }
export function parseArgs(argv) {
  const args = [...argv];
  if (args.length === 0) throw new UsageError('missing command (try: nvme-wasm sim --cmd "info; poweroff")');
  const first = args.shift();
  if (first === "-h" || first === "--help" || first === "help") return { help: true };
  if (first === "svg") return parseSvgArgs(args);
  if (first !== "sim") throw new UsageError(`unknown command "${first}" (the commands are "sim" and "svg")`);
  let parsed;
  try {
    parsed = utilParseArgs({ args, options: SIM_OPTIONS, strict: true, allowPositionals: true });
  } catch (e) {
    if (!e.code?.startsWith("ERR_PARSE_ARGS")) throw e;
    throw usageError(e);
  }
  const v = parsed.values;
  if (v.help) return { help: true };
  if (parsed.positionals.length) throw new UsageError(`unexpected argument "${parsed.positionals[0]}"`);
  const opts = {
    disks: v.disk ?? [],
    overrides: {},
    faults: {},
    seed: 1,
    profile: v.profile ?? "qemu",
    bridge: !!v.bridge,
    multifunction: !!v.multifunction,
    trace: !!v.trace,
    cmd: v.cmd ?? null,
  };
  for (const s of v.set ?? []) Object.assign(opts.overrides, parsePairs(s, "--set"));
  for (const f of v.fault ?? []) Object.assign(opts.faults, parsePairs(f, "--fault"));
  if (v.seed !== undefined) {
    if (!/^\d+$/.test(v.seed)) throw new UsageError(`--seed wants a non-negative integer, got "${v.seed}"`);
    opts.seed = Number(v.seed);
  }
  if (v.controllers !== undefined) {
    if (!/^\d+$/.test(v.controllers) || Number(v.controllers) < 1 || Number(v.controllers) > 16)
      throw new UsageError(`--controllers wants 1..16, got "${v.controllers}"`);
    opts.controllers = Number(v.controllers);
  }
  if (v["dma-base"] !== undefined) opts.dmaBase = parseDmaBase(v["dma-base"]);
  if (v.console !== undefined) {
    if (!["tty", "script", "auto"].includes(v.console))
      throw new UsageError(`--console wants tty, script or auto, got "${v.console}"`);
    opts.console = v.console;
  }
  if (v.wasm !== undefined) opts.wasm = v.wasm;
  if (v["trace-json"] !== undefined) opts.traceJson = v["trace-json"];
  if (v["trace-svg"] !== undefined) opts.traceSvg = v["trace-svg"];
  if (opts.disks.length === 0) opts.disks.push("mem:16M");
  return opts;
}

function parseDmaBase(v) {
  if (!/^(0x)?[0-9a-f]+$/i.test(v)) throw new UsageError(`--dma-base wants a hex bus address, got "${v}"`);
  const base = BigInt(v.toLowerCase().startsWith("0x") ? v : `0x${v}`);
  if (base === 0n || base % 4096n || base >= 1n << 64n)
    throw new UsageError(`--dma-base ${v}: must be a non-zero, 4 KiB-aligned address below 2^64`);
  return base;
}

// The boot command line the shell gets: --cmd, and console=tty when a person types at the prompt
// (--console tty, or auto and standard input is a terminal; docs/shell.md).
export function bootCommandLine(cmd, mode = "auto", stdinIsTty = !!process.stdin.isTTY) {
  const tty = mode === "tty" || (mode === "auto" && stdinIsTty);
  if (!tty) return cmd ?? "";
  return cmd ? `${cmd}; console=tty` : "console=tty";
}

// nvme-wasm svg TRACE.jsonl OUT.svg [--title TEXT]
function parseSvgArgs(args) {
  const opts = { svg: true, title: null, files: [] };
  while (args.length) {
    const a = args.shift();
    if (a === "-h" || a === "--help") return { help: true };
    if (a === "--title") {
      if (!args.length) throw new UsageError("--title needs a value");
      opts.title = args.shift();
    } else if (a.startsWith("-")) {
      throw new UsageError(`unknown option ${a}`);
    } else {
      opts.files.push(a);
    }
  }
  if (opts.files.length !== 2) throw new UsageError("svg wants two files: the trace (JSON lines) and the SVG to write");
  return opts;
}

// Reads JSON lines, writes the diagram; a line that is not a trace record is an error with its number.
async function drawSvg(opts) {
  const { readFileSync, writeFileSync } = await import("node:fs");
  const { renderSvg, parseJsonLines } = await import("./trace-svg.js");
  let records;
  try {
    records = parseJsonLines(readFileSync(opts.files[0], "utf8"));
  } catch (e) {
    process.stderr.write(`nvme-wasm: ${opts.files[0]}: ${e.message}\n`);
    return 1;
  }
  writeFileSync(opts.files[1], renderSvg(records, { title: opts.title ?? opts.files[0] }));
  process.stderr.write(`nvme-wasm: ${records.length} events drawn in ${opts.files[1]}\n`);
  return 0;
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
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (opts.svg) return drawSvg(opts);
  const { runSim } = await import("./sim.js");
  const { parseDiskSpec } = await import("./disk.js");
  try {
    for (const d of opts.disks) parseDiskSpec(d);
    if (opts.faults && Object.keys(opts.faults).length) {
      const { parseFaults } = await import("./sim.js");
      parseFaults(
        Object.entries(opts.faults)
          .map(([k, v]) => `${k}=${v}`)
          .join(","),
      );
    }
  } catch (e) {
    process.stderr.write(`nvme-wasm: ${e.message}\n`);
    return 2;
  }
  let result;
  const traceRecords = opts.traceJson || opts.traceSvg ? [] : null;
  try {
    result = await runSim({
      traceRecords,
      disks: opts.disks,
      profile: opts.profile,
      overrides: opts.overrides,
      seed: opts.seed,
      cmd: bootCommandLine(opts.cmd, opts.console),
      input: "stdin",
      bridge: opts.bridge,
      multifunction: opts.multifunction,
      controllers: opts.controllers,
      dmaBase: opts.dmaBase,
      faults: Object.fromEntries(Object.entries(opts.faults).map(([k, v]) => [k, Number(v)])),
      trace: opts.trace,
      wasm: opts.wasm,
      capture: false,
      stdout: (bytes) => process.stdout.write(bytes),
      stderr: (s) => process.stderr.write(s),
    });
  } catch (e) {
    process.stderr.write(`nvme-wasm: ${e.message}\n`);
    return e.setup ? 2 : 1;
  }
  if (opts.traceJson) {
    const { writeFileSync } = await import("node:fs");
    writeFileSync(
      opts.traceJson,
      traceRecords.map((r) => JSON.stringify(r)).join("\n") + (traceRecords.length ? "\n" : ""),
    );
    process.stderr.write(`nvme-wasm: ${traceRecords.length} trace events written to ${opts.traceJson}\n`);
  }
  if (opts.traceSvg) {
    const { writeFileSync } = await import("node:fs");
    const { renderSvg } = await import("./trace-svg.js");
    writeFileSync(
      opts.traceSvg,
      renderSvg(traceRecords, { title: "nvme-wasm sim", subtitle: `--cmd "${opts.cmd ?? ""}"` }),
    );
    process.stderr.write(`nvme-wasm: ${traceRecords.length} trace events drawn in ${opts.traceSvg}\n`);
  }
  return result.code;
}

// Run when executed directly (also through the npm bin link, a symlink: compare real paths).
import { realpathSync } from "node:fs";
const self = (() => {
  try {
    return pathToFileURL(realpathSync(process.argv[1] ?? "")).href;
  } catch {
    return "";
  }
})();
if (import.meta.url === self) {
  main().then(
    (code) => {
      process.stdout.write("", () => process.exit(code));
    },
    (e) => {
      process.stderr.write(`nvme-wasm: ${e.stack ?? e}\n`);
      process.exit(1);
    },
  );
}
