#!/usr/bin/env node
// The screen console's font: the glyphs of printable ASCII (0x20..0x7E) and a replacement glyph
// for any other byte, taken from a Linux console font (PSF 1 or 2, gzip'd or not) through its
// Unicode table, written as C for the kernel's framebuffer console (boot/fb.c):
//   node boot/font.js OUT.c [FONT.psf.gz]
// The default font, Uni2-VGA16 (8x16, the PC's VGA glyphs), comes with Debian's
// console-setup-linux package; the font is not part of this repository. The test of the screen
// (test/qemu/iso.test.js) reads the same glyphs to decode QEMU's screen dumps.
import { readFileSync, writeFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const DEFAULT_FONT = "/usr/share/consolefonts/Uni2-VGA16.psf.gz";
export const FIRST_CHAR = 0x20;
export const LAST_CHAR = 0x7e;
export const GLYPHS = LAST_CHAR - FIRST_CHAR + 2; // printable ASCII, then the replacement glyph
const REPLACEMENTS = [0xfffd, 0x3f]; // U+FFFD, else '?'
const PSF1_MAGIC = 0x0436;
const PSF1_MODE_512 = 0x01;
const PSF1_MODE_HAS_TABLE = 0x02;
const PSF1_SEPARATOR = 0xffff;
const PSF1_SEQUENCE = 0xfffe;
const PSF2_MAGIC = 0x864ab572;
const PSF2_HAS_TABLE = 0x01;
const PSF2_SEPARATOR = 0xff;
const PSF2_SEQUENCE = 0xfe;
const HEIGHT_MAX = 32;

// { width, height, bytesPerRow, glyphs: Buffer[], unicode: Map<codepoint, glyph index> }
export function parsePsf(bytes) {
  const b = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : Buffer.from(bytes);
  let width,
    height,
    count,
    charBytes,
    offset,
    table = new Map(),
    hasTable;
  if (b.length >= 4 && b.readUInt16LE(0) === PSF1_MAGIC) {
    const mode = b[2];
    width = 8;
    height = b[3];
    charBytes = height;
    offset = 4;
    count = mode & PSF1_MODE_512 ? 512 : 256;
    hasTable = (mode & PSF1_MODE_HAS_TABLE) !== 0;
  } else if (b.length >= 32 && b.readUInt32LE(0) === PSF2_MAGIC) {
    offset = b.readUInt32LE(8);
    hasTable = (b.readUInt32LE(12) & PSF2_HAS_TABLE) !== 0;
    count = b.readUInt32LE(16);
    charBytes = b.readUInt32LE(20);
    height = b.readUInt32LE(24);
    width = b.readUInt32LE(28);
  } else {
    throw new Error("not a PSF font (neither PSF 1 nor PSF 2 magic)");
  }
  const bytesPerRow = Math.ceil(width / 8);
  if (height < 1 || height > HEIGHT_MAX || charBytes !== bytesPerRow * height)
    throw new Error(`unexpected glyph size ${width}x${height} (${charBytes} bytes)`);
  const tableAt = offset + count * charBytes;
  if (b.length < tableAt)
    throw new Error(`font file cut short: ${b.length} bytes, its ${count} glyphs need ${tableAt}`);
  const glyphs = [];
  for (let i = 0; i < count; i++) glyphs.push(b.subarray(offset + i * charBytes, offset + (i + 1) * charBytes));
  if (!hasTable) {
    for (let i = 0; i < Math.min(count, 256); i++) table.set(i, i); // no table: the glyph index is the code
  } else if (b.readUInt16LE(0) === PSF1_MAGIC) {
    let p = tableAt;
    for (let g = 0; g < count && p + 1 < b.length; g++) {
      let inSequence = false;
      for (; p + 1 < b.length; p += 2) {
        const u = b.readUInt16LE(p);
        if (u === PSF1_SEPARATOR) {
          p += 2;
          break;
        }
        if (u === PSF1_SEQUENCE) {
          inSequence = true;
          continue;
        }
        if (!inSequence && !table.has(u)) table.set(u, g);
      }
    }
  } else {
    const text = b.subarray(tableAt);
    let p = 0;
    for (let g = 0; g < count && p < text.length; g++) {
      let inSequence = false;
      while (p < text.length) {
        const c = text[p];
        if (c === PSF2_SEPARATOR) {
          p++;
          break;
        }
        if (c === PSF2_SEQUENCE) {
          inSequence = true;
          p++;
          continue;
        }
        const n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        const u = text
          .subarray(p, p + n)
          .toString("utf8")
          .codePointAt(0);
        if (!inSequence && u !== undefined && !table.has(u)) table.set(u, g);
        p += n;
      }
    }
  }
  return { width, height, bytesPerRow, glyphs, unicode: table };
}

// The GLYPHS glyphs the kernel draws, in its order: 0x20..0x7E, then the replacement glyph.
export function consoleGlyphs(font) {
  if (font.width !== 8) throw new Error(`the console draws 8-pixel-wide glyphs; this font's are ${font.width} wide`);
  const out = [];
  for (let c = FIRST_CHAR; c <= LAST_CHAR; c++) {
    const g = font.unicode.get(c);
    if (g === undefined) throw new Error(`the font has no glyph for ${JSON.stringify(String.fromCharCode(c))}`);
    out.push(font.glyphs[g]);
  }
  const r = REPLACEMENTS.map((u) => font.unicode.get(u)).find((g) => g !== undefined);
  if (r === undefined) throw new Error("the font has neither U+FFFD nor '?'");
  out.push(font.glyphs[r]);
  return out;
}

export function fontC(path) {
  const font = parsePsf(readFileSync(path));
  const glyphs = consoleGlyphs(font);
  const rows = glyphs.map((g, i) => {
    const what =
      i < glyphs.length - 1
        ? JSON.stringify(String.fromCharCode(FIRST_CHAR + i)).replace(/\*\//g, "* /")
        : "replacement";
    return `  /* ${what} */ ${[...g].map((x) => `0x${x.toString(16).padStart(2, "0")}`).join(", ")},`;
  });
  return `/* Generated by boot/font.js from ${path}: do not edit. The glyphs of 0x20..0x7E, then the
 * replacement glyph; each glyph FONT_HEIGHT rows of 8 pixels, the leftmost pixel in bit 7. */
#include "kernel.h"
#include "screen.h"

const u32 font_height = ${font.height};
const u8 font_rows[${glyphs.length * font.height}] = {
${rows.join("\n")}
};
`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const [out, path = process.env.NVME_WASM_FONT || DEFAULT_FONT] = process.argv.slice(2);
  if (!out) {
    console.error("usage: node boot/font.js OUT.c [FONT.psf[.gz]]");
    process.exit(2);
  }
  try {
    writeFileSync(out, fontC(path));
  } catch (e) {
    const hint = e.code === "ENOENT" ? " (Debian's console-setup-linux package has it: make deps)" : "";
    console.error(`boot/font.js: ${path}: ${e.message}${hint}`);
    process.exit(1);
  }
}
