#!/usr/bin/env node
// The shell's CRC-32 alone (assembly/shell/crc32.ts, compiled as test/lib/crc32-module.js does),
// run under Node over a buffer in its module's memory: MB/s of the function by itself, without the
// IO path `crc` also times. Checked against node:zlib's crc32 first. A benchmark: it prints figures
// and never fails on a time.
//   node bench/crc32.js [--mib 64] [--repeat 5] [--rev GIT_REV | --file PATH]
// --rev compiles crc32.ts as it was in that git revision (e.g. --rev HEAD), for a before/after;
// --file another source exporting the same function (a variant being tried).
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { performance } from "node:perf_hooks";
import { crc32 } from "node:zlib";
import { ROOT } from "../host/build.js";
import { crc32Module, CRC32_SOURCE } from "../test/lib/crc32-module.js";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const mib = Number(opt("mib", "64"));
const repeat = Number(opt("repeat", "5"));
const rev = opt("rev", null);
const file = opt("file", null);
const source = rev
  ? execFileSync("git", ["show", `${rev}:${CRC32_SOURCE}`], { cwd: ROOT, encoding: "utf8" })
  : file
    ? readFileSync(file, "utf8")
    : undefined;
const bytes = mib << 20;
const crc = await crc32Module({ source, dataBytes: bytes });
let x = 12345;
for (let i = 0; i < bytes; i++) {
  x ^= x << 13;
  x >>>= 0;
  x ^= x >>> 17;
  x ^= x << 5;
  x >>>= 0;
  crc.data[i] = x & 0xff;
}

// Correctness first: odd lengths and alignments, and pieces fed back, equal zlib's crc32.
for (const [off, len] of [
  [0, 0],
  [1, 1],
  [3, 7],
  [5, 8],
  [7, 15],
  [2, 16],
  [1, 17],
  [0, 4096],
  [13, 100003],
]) {
  const want = crc32(crc.data.subarray(off, off + len)) >>> 0;
  const got = crc.update(0, off, len);
  if (got !== want)
    throw new Error(`crc32Update(${off}, ${len}) = ${got.toString(16)}, zlib says ${want.toString(16)}`);
}
const cut = 1000001;
if (crc.update(crc.update(0, 0, cut), cut, bytes - cut) !== crc32(crc.data) >>> 0)
  throw new Error("pieces fed back differ from zlib");

crc.update(0, 0, bytes); // warm-up
const rates = [];
for (let k = 0; k < repeat; k++) {
  const t = performance.now();
  crc.update(0, 0, bytes);
  rates.push(bytes / 1e6 / ((performance.now() - t) / 1000));
}
rates.sort((a, b) => a - b);
const t = performance.now();
crc32(crc.data);
const zlibRate = bytes / 1e6 / ((performance.now() - t) / 1000);
const name = rev ? `${CRC32_SOURCE}@${rev}` : (file ?? CRC32_SOURCE);
console.log(
  `crc32 ${name}: ${mib} MiB, median ${rates[rates.length >> 1].toFixed(0)} MB/s (runs ${rates.map((r) => r.toFixed(0)).join(",")}); node:zlib ${zlibRate.toFixed(0)} MB/s`,
);
