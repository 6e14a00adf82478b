#!/usr/bin/env node
// Copies a multiboot kernel with bit 2 of its multiboot header's flags set ("the video mode
// fields are valid", Multiboot 0.6.96, 3.1.1), the checksum adjusted:
//   node boot/mb-video.js IN.elf OUT.elf
// boot/entry.S carries the video fields (mode_type 1, EGA text preferred, 80x25) with the bit
// clear, because QEMU's -kernel loader complains about the bit. GRUB needs it under UEFI, which
// has no text mode: without it GRUB gives the kernel no framebuffer ("no console will be
// available to OS"); with it GRUB keeps text mode under a BIOS and sets a framebuffer under UEFI.
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

const MAGIC = 0x1badb002;
const SEARCH_BYTES = 8192; // the header lies in the first 8 KiB, 4-byte aligned (3.1.1)
const FLAG_VIDEO = 1 << 2;
const FLAG_AOUT_KLUDGE = 1 << 16;
const MODE_TYPE_OFFSET = 32; // after magic, flags, checksum and the five address fields
const HEADER_BYTES = 48;

export function setVideoFlag(elf) {
  const out = Buffer.from(elf);
  for (let o = 0; o + HEADER_BYTES <= Math.min(out.length, SEARCH_BYTES); o += 4) {
    if (out.readUInt32LE(o) !== MAGIC) continue;
    const flags = out.readUInt32LE(o + 4);
    if ((MAGIC + flags + out.readUInt32LE(o + 8)) >>> 0 !== 0) continue; // not a header: checksum
    if (flags & FLAG_AOUT_KLUDGE)
      throw new Error("the multiboot header uses the a.out kludge (flag 16): not this kernel's header");
    if (out.readUInt32LE(o + MODE_TYPE_OFFSET) > 1)
      throw new Error(
        `multiboot header at ${o}: mode_type ${out.readUInt32LE(o + MODE_TYPE_OFFSET)} is neither 0 nor 1: no video fields`,
      );
    const set = (flags | FLAG_VIDEO) >>> 0;
    out.writeUInt32LE(set, o + 4);
    out.writeUInt32LE(-(MAGIC + set) >>> 0, o + 8);
    return out;
  }
  throw new Error(`no multiboot header (magic 0x1badb002 with a valid checksum) in the first ${SEARCH_BYTES} bytes`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const [input, output] = process.argv.slice(2);
  if (!input || !output) {
    console.error("usage: node boot/mb-video.js IN.elf OUT.elf");
    process.exit(2);
  }
  try {
    writeFileSync(output, setVideoFlag(readFileSync(input)));
  } catch (e) {
    console.error(`boot/mb-video.js: ${input}: ${e.message}`);
    process.exit(1);
  }
}
