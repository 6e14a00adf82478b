#!/usr/bin/env node
// Creates the default disk for `make run`: boot/mkdisk.js PATH [MiB]
// Bytes 0..4095 hold a readable banner (so `read nvme0n1 0 1` visibly proves a real read);
// from byte 4096 on, the fill/verify pattern of docs/shell.md with seed 1 (the word at byte
// offset o is splitmix64's finaliser of (1 << 40) ^ (o / 8)), so `verify nvme0n1 8 2048 1`
// passes on a fresh image and anything else can be checked from the file alone.
import { openSync, writeSync, closeSync, renameSync } from "node:fs";

const [path, mib = "64"] = process.argv.slice(2);
if (!path) {
  console.error("usage: boot/mkdisk.js PATH [MiB]");
  process.exit(2);
}
const size = Number(mib) * 1024 * 1024;
const M = (1n << 64n) - 1n;
function mix(x) {
  let z = (x + 0x9e3779b97f4a7c15n) & M;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M;
  return z ^ (z >> 31n);
}
const seed = 1n;
const banner =
  "nvme-wasm default disk: if you can read this, the driver read LBA 0.\n" +
  "From byte 4096 on this disk holds the fill/verify pattern with seed 1,\n" +
  "so `verify nvme0n1 8 2048 1` passes (512-byte blocks) until you write over it.\n";
const tmp = `${path}.tmp`;
const fd = openSync(tmp, "w");
const chunk = Buffer.alloc(1 << 20);
const words = new BigUint64Array(chunk.buffer, chunk.byteOffset, chunk.length / 8);
for (let off = 0; off < size; off += chunk.length) {
  for (let i = 0; i < words.length; i++) words[i] = mix((seed << 40n) ^ BigInt(off / 8 + i));
  if (off === 0) {
    chunk.fill(0, 0, 4096);
    chunk.write(banner, 0, "latin1");
  }
  writeSync(fd, chunk, 0, Math.min(chunk.length, size - off));
}
closeSync(fd);
renameSync(tmp, path);
