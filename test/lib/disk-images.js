// Host-side facts about disk images, computed from definitions alone (never from the driver):
// the fill/verify pattern of docs/shell.md, zlib's CRC-32, and images the tests create.
import { writeFileSync, readFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";

const M64 = (1n << 64n) - 1n;

// splitmix64's finaliser, as docs/shell.md specifies it.
export function mix(x) {
  let z = (x + 0x9e3779b97f4a7c15n) & M64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
  return z ^ (z >> 31n);
}

// The pattern bytes for device byte offsets [start, start + length), both multiples of 8.
export function patternBytes(seed, start, length) {
  const buf = Buffer.alloc(length);
  const s = (BigInt(seed) << 40n) & M64;
  for (let i = 0; i < length; i += 8) buf.writeBigUInt64LE(mix(s ^ BigInt((start + i) / 8)), i);
  return buf;
}

// Deterministic "random" content for an image (xorshift32), so untouched regions are checkable.
export function noiseBytes(length, seed = 12345) {
  const buf = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buf.writeUInt32LE(x, i);
  }
  return buf;
}

export function crcHex(buf) {
  return "0x" + (crc32(buf) >>> 0).toString(16).padStart(8, "0");
}

export function tempDir(prefix = "nvme-wasm-") {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, path: (name) => join(dir, name), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeImage(path, bytes) {
  writeFileSync(path, bytes);
  return path;
}

export function readImage(path) {
  return readFileSync(path);
}

// Lines "word key=value key="quoted value" ..." -> { kind, fields } objects.
export function parseLine(line) {
  const m = /^(\S+)(.*)$/.exec(line.trim());
  if (!m) return null;
  const fields = {};
  const re = /(\w+)=("([^"]*)"|\S+)/g;
  let r;
  while ((r = re.exec(m[2]))) fields[r[1]] = r[3] !== undefined ? r[3] : r[2];
  return { kind: m[1], fields, text: line.trim() };
}

export function linesOf(output, kind) {
  return output
    .split(/\r?\n/)
    .map((l) => l.replace(/\r$/, ""))
    .filter((l) => l.startsWith(kind + " "))
    .map(parseLine);
}

export function errorLines(output) {
  return output.split(/\r?\n/).filter((l) => l.startsWith("error: "));
}
