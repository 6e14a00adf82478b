// The screen console's terminal (boot/screen.c) on its own: compiled for this machine with clang
// against a backend that records what it is told to draw, fed bytes, and the grid it drew read
// back — the sequences the shell's editor writes and the ones around them (wrapping, scrolling,
// every erase mode, cursor addressing, tabs, sequences it reads and does not show, cut-short and
// over-long ones); and the framebuffer backend (boot/fb.c) drawing into memory in each pixel
// format it takes, read back pixel by pixel against the font. test/qemu/iso.test.js checks both
// on real screens in QEMU (there only the 32-bit format GRUB sets under OVMF).
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { spawnSync } from "node:child_process";
import { writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./helpers.js";
import { tempDir } from "../lib/disk-images.js";
import { parsePsf, consoleGlyphs, DEFAULT_FONT, FIRST_CHAR } from "../../boot/font.js";

const haveClang = spawnSync("clang", ["--version"]).status === 0;

// The harness: a "VGA text" backend of COLUMNS x ROWS cells (argv) whose draw calls land in a
// grid; multiboot information without a framebuffer (so screen_init picks VGA text), below 4 GiB
// as the kernel's u32 pointer needs it.
const HARNESS = `
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "screen.h"

static u32 columns, rows, cursor_row, cursor_column;
static char grid[SCREEN_ROWS_MAX][SCREEN_COLUMNS_MAX];
static void draw(u32 r, u32 c, u8 ch, bool cursor) { (void)cursor; grid[r][c] = (char)ch; }
static void place(u32 r, u32 c) { cursor_row = r; cursor_column = c; }
bool vga_text_init(u64 addr, u32 pitch, u32 cols, u32 rws, struct screen_backend *b) {
  (void)addr; (void)pitch; (void)cols; (void)rws;
  b->columns = columns; b->rows = rows; b->draw = draw; b->place_cursor = place;
  return true;
}
bool fb_init(const struct framebuffer_info *fb, struct screen_backend *b, const char **why) { (void)fb; (void)b; *why = "none"; return false; }
u64 time_ns(void) { return 0; }
void kprintf(const char *fmt, ...) { (void)fmt; }
const u32 font_height = 16;
const u8 font_rows[1] = { 0 };

int main(int argc, char **argv) {
  columns = (u32)atoi(argv[1]); rows = (u32)atoi(argv[2]);
  u32 *mbi = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  if (mbi == MAP_FAILED) return 2;
  memset(mbi, 0, 4096);
  screen_init(0x2BADB002, (u32)(uintptr_t)mbi);
  int c;
  while ((c = getchar()) != EOF) screen_putc((char)c);
  screen_render(true);
  for (u32 r = 0; r < rows; r++) {
    int end = (int)columns;
    while (end > 0 && grid[r][end - 1] == ' ') end--;
    printf("%.*s\\n", end, grid[r]);
  }
  printf("cursor %u %u\\n", cursor_row, cursor_column);
  return 0;
}
`;

describe.skipIf(!haveClang)("the screen console's terminal (boot/screen.c, compiled for this machine)", () => {
  let tmp, exe;
  beforeAll(() => {
    tmp = tempDir("nvme-screen-");
    const src = tmp.path("harness.c");
    writeFileSync(src, HARNESS);
    exe = tmp.path("screen");
    const r = spawnSync(
      "clang",
      [
        "-std=gnu11",
        "-O1",
        "-Wall",
        "-Wno-unused-function",
        "-I",
        join(ROOT, "boot"),
        "-o",
        exe,
        src,
        join(ROOT, "boot", "screen.c"),
      ],
      { encoding: "utf8" },
    );
    if (r.status !== 0) throw new Error(`clang failed:\n${r.stderr}`);
  });
  afterAll(() => tmp?.remove());

  // Feeds `input` to a columns x rows terminal; the rows (trailing blanks cut) and the cursor.
  const term = (input, columns = 10, rows = 4) => {
    const r = spawnSync(exe, [String(columns), String(rows)], { input: Buffer.from(input, "latin1") });
    if (r.status !== 0) throw new Error(`harness exit ${r.status}: ${r.stderr}`);
    const lines = r.stdout.toString("latin1").split("\n");
    const [, row, column] = /^cursor (\d+) (\d+)$/.exec(lines[rows]);
    return { rows: lines.slice(0, rows), cursor: [Number(row), Number(column)] };
  };
  const ESC = "\x1b";

  it("prints text; LF is CR LF (as the serial side sends it), CR returns, BS steps back, TAB stops every 8", () => {
    expect(term("abc\nde")).toEqual({ rows: ["abc", "de", "", ""], cursor: [1, 2] });
    expect(term("abc\rX")).toEqual({ rows: ["Xbc", "", "", ""], cursor: [0, 1] });
    expect(term("ab\bc")).toEqual({ rows: ["ac", "", "", ""], cursor: [0, 2] });
    expect(term("a\tb", 20)).toEqual({ rows: ["a       b", "", "", ""], cursor: [0, 9] });
    expect(term("\b\bx")).toEqual({ rows: ["x", "", "", ""], cursor: [0, 1] }); // BS stops at column 0
    expect(term("a\x07\x01b")).toEqual({ rows: ["ab", "", "", ""], cursor: [0, 2] }); // BEL and other controls: nothing
  });

  it("wraps after the last column only when the next character comes (xterm), and scrolls at the bottom", () => {
    expect(term("abcde", 5, 3)).toEqual({ rows: ["abcde", "", ""], cursor: [0, 4] });
    expect(term("abcdef", 5, 3)).toEqual({ rows: ["abcde", "f", ""], cursor: [1, 1] });
    expect(term("abcde\r\n", 5, 3).cursor).toEqual([1, 0]); // no blank line from the wrap
    expect(term("1\n2\n3\n4", 5, 3)).toEqual({ rows: ["2", "3", "4"], cursor: [2, 1] });
    const many = Array.from({ length: 50 }, (_, i) => `line${i}`).join("\n");
    expect(term(many, 8, 3).rows).toEqual(["line47", "line48", "line49"]); // the ring of rows, many times round
  });

  it("moves the cursor: ESC [ n A/B/C/D, ESC [ r ; c H and f, ESC [ n G, clamped to the screen", () => {
    expect(term(`abcdef${ESC}[3Dx`)).toEqual({ rows: ["abcxef", "", "", ""], cursor: [0, 4] });
    expect(term(`ab${ESC}[Cx`)).toEqual({ rows: ["ab x", "", "", ""], cursor: [0, 4] });
    expect(term(`${ESC}[3;5Hx`).rows).toEqual(["", "", "    x", ""]);
    expect(term(`${ESC}[2;2fx${ESC}[Ay${ESC}[2Bz`).rows).toEqual(["  y", " x", "   z", ""]);
    expect(term(`abc${ESC}[Hx${ESC}[99;99Hy`).rows).toEqual(["xbc", "", "", "         y"]);
    expect(term(`abcdef${ESC}[2Gx${ESC}[99Dy`).rows).toEqual(["yxcdef", "", "", ""]);
    expect(term(`abcdefghij${ESC}[Dx`, 10)).toEqual({ rows: ["abcdefghxj", "", "", ""], cursor: [0, 9] }); // from a pending wrap
  });

  it("erases: ESC [ K 0/1/2 in the line, ESC [ J 0/1/2 on the screen; Ctrl-L's ESC [ H ESC [ 2 J", () => {
    expect(term(`hello${ESC}[3D${ESC}[K`).rows[0]).toBe("he");
    expect(term(`hello${ESC}[3D${ESC}[0K`).rows[0]).toBe("he");
    expect(term(`hello${ESC}[3D${ESC}[1K`).rows[0]).toBe("   lo");
    expect(term(`hello${ESC}[3D${ESC}[2Kx`).rows[0]).toBe("  x");
    const filled = "aaaa\nbbbb\ncccc\ndddd";
    expect(term(`${filled}${ESC}[2;3H${ESC}[J`).rows).toEqual(["aaaa", "bb", "", ""]);
    expect(term(`${filled}${ESC}[2;3H${ESC}[1J`).rows).toEqual(["", "   b", "cccc", "dddd"]);
    expect(term(`${filled}${ESC}[H${ESC}[2Jnvme> x`)).toEqual({ rows: ["nvme> x", "", "", ""], cursor: [0, 7] });
    // The editor's redraw of a line after a deletion in its middle: CR, prompt, rest, erase, back.
    expect(term(`nvme> infxo\rnvme> info${ESC}[K${ESC}[2D`, 20)).toEqual({
      rows: ["nvme> info", "", "", ""],
      cursor: [0, 8],
    });
  });

  it("reads and does not show other sequences: SGR, private modes, two-byte ESC, over-long and cut-short ones", () => {
    expect(term(`${ESC}[1;31mred${ESC}[0m`).rows[0]).toBe("red");
    expect(term(`${ESC}[?25lab${ESC}[?25h`).rows[0]).toBe("ab");
    expect(term(`${ESC}7x${ESC}cy`).rows[0]).toBe("xy");
    expect(term(`${ESC}[${"1".repeat(40)}mz`).rows[0]).toBe("z"); // 40 parameter bytes, then its final byte
    expect(term(`ab${ESC}[2\rc`).rows[0]).toBe("cb"); // CR cuts the sequence and still returns
    expect(term(`${ESC}[99999999Cx`, 10).rows[0]).toBe("         x"); // a huge count is clamped
  });
});

// The framebuffer harness: fb_init over memory of its own (map_framebuffer returns it), the
// format from argv (width height bpp, then red/green/blue position and bits), then draws "Az~"
// at row 0, columns 0..2, the "~" as the cursor's cell, and writes the framebuffer to stdout.
const FB_HARNESS = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "screen.h"

static u8 *memory;
void *map_framebuffer(u64 phys, u64 size) { (void)phys; memory = calloc(1, size); return memory; }

int main(int argc, char **argv) {
  if (argc != 10) return 2;
  struct framebuffer_info fb = { .addr = 0x80000000ULL };
  fb.width = (u32)atoi(argv[1]); fb.height = (u32)atoi(argv[2]); fb.bpp = (u8)atoi(argv[3]);
  fb.red_position = (u8)atoi(argv[4]); fb.red_bits = (u8)atoi(argv[5]);
  fb.green_position = (u8)atoi(argv[6]); fb.green_bits = (u8)atoi(argv[7]);
  fb.blue_position = (u8)atoi(argv[8]); fb.blue_bits = (u8)atoi(argv[9]);
  fb.pitch = fb.width * ((fb.bpp + 7) / 8) + 12;           /* a pitch longer than a row, as firmware may give */
  struct screen_backend b;
  const char *why = 0;
  if (!fb_init(&fb, &b, &why)) { printf("refused: %s\\n", why); return 0; }
  b.draw(0, 0, 'A', false); b.draw(0, 1, 'z', false); b.draw(0, 2, '~', true);
  fprintf(stderr, "%u %u\\n", b.columns, b.rows);
  fwrite(memory, 1, (size_t)fb.pitch * fb.height, stdout);
  return 0;
}
`;

describe.skipIf(!haveClang)("the screen console's framebuffer backend (boot/fb.c, compiled for this machine)", () => {
  let tmp, exe;
  const font = parsePsf(readFileSync(DEFAULT_FONT));
  const glyphs = consoleGlyphs(font);
  beforeAll(() => {
    tmp = tempDir("nvme-fb-");
    writeFileSync(tmp.path("harness.c"), FB_HARNESS);
    const gen = spawnSync("node", [join(ROOT, "boot", "font.js"), tmp.path("font.c")], { encoding: "utf8" });
    if (gen.status !== 0) throw new Error(`boot/font.js failed:\n${gen.stderr}`);
    exe = tmp.path("fb");
    const r = spawnSync(
      "clang",
      [
        "-std=gnu11",
        "-O1",
        "-Wall",
        "-Wno-unused-function",
        "-I",
        join(ROOT, "boot"),
        "-o",
        exe,
        tmp.path("harness.c"),
        join(ROOT, "boot", "fb.c"),
        tmp.path("font.c"),
      ],
      { encoding: "utf8" },
    );
    if (r.status !== 0) throw new Error(`clang failed:\n${r.stderr}`);
  });
  afterAll(() => tmp?.remove());

  const run = (format) => {
    const r = spawnSync(exe, format.map(String), { maxBuffer: 1 << 28 });
    if (r.status !== 0) throw new Error(`harness exit ${r.status}: ${r.stderr}`);
    return { memory: r.stdout, grid: r.stderr.toString().trim().split(" ").map(Number) };
  };
  // The pixel at (x, y) as [r, g, b], each scaled back to 8 bits.
  const pixel = (memory, format, pitch, x, y) => {
    const [, , bpp, rp, rb, gp, gb, bp, bb] = format;
    const bytes = (bpp + 7) >> 3,
      o = y * pitch + x * bytes;
    let v = 0;
    for (let i = 0; i < bytes; i++) v |= memory[o + i] << (8 * i);
    const field = (p, n) => (((v >>> p) & ((1 << n) - 1)) << (8 - n)) & 0xff;
    return [field(rp, rb), field(gp, gb), field(bp, bb)];
  };
  // The cell at column c of row 0, scale s, as glyph rows (lit = the foreground colour `on`).
  const cellRows = (memory, format, pitch, c, s, on) => {
    const rows = [];
    for (let y = 0; y < font.height; y++) {
      let bits = 0;
      for (let x = 0; x < 8; x++) {
        const p = pixel(memory, format, pitch, (c * 8 + x) * s, y * s);
        if (p.join() === on.join()) bits |= 0x80 >> x;
      }
      rows.push(bits);
    }
    return Buffer.from(rows);
  };
  const glyph = (ch) => glyphs[ch.charCodeAt(0) - FIRST_CHAR];
  const inverted = (g) => Buffer.from(g.map((x) => x ^ 0xff));

  const FORMATS = {
    "32-bit xRGB": [800, 600, 32, 16, 8, 8, 8, 0, 8],
    "32-bit xBGR": [800, 600, 32, 0, 8, 8, 8, 16, 8],
    "24-bit RGB": [800, 600, 24, 16, 8, 8, 8, 0, 8],
    "16-bit 5:6:5": [800, 600, 16, 11, 5, 5, 6, 0, 5],
    "15-bit 5:5:5": [800, 600, 15, 10, 5, 5, 5, 0, 5],
  };
  for (const [name, format] of Object.entries(FORMATS)) {
    it(`draws the font's glyphs in grey on black, the cursor's cell inverted: ${name}`, () => {
      const { memory, grid } = run(format);
      const pitch = format[0] * ((format[2] + 7) >> 3) + 12;
      expect(grid).toEqual([100, 37]);
      const lit = [0xaa, 0xaa, 0xaa].map((v, i) => (v >> (8 - format[4 + 2 * i])) << (8 - format[4 + 2 * i]));
      expect(cellRows(memory, format, pitch, 0, 1, lit)).toEqual(glyph("A"));
      expect(cellRows(memory, format, pitch, 1, 1, lit)).toEqual(glyph("z"));
      expect(cellRows(memory, format, pitch, 2, 1, lit)).toEqual(inverted(glyph("~")));
      expect(pixel(memory, format, pitch, 799, 599)).toEqual([0, 0, 0]); // cleared to black
    });
  }

  it("on a screen wider than 2048 pixels draws each glyph twice its size, keeping at least 80 columns", () => {
    const format = [3840, 2160, 32, 16, 8, 8, 8, 0, 8];
    const { memory, grid } = run(format);
    expect(grid).toEqual([240, 67]);
    const pitch = 3840 * 4 + 12;
    expect(cellRows(memory, format, pitch, 0, 2, [0xaa, 0xaa, 0xaa])).toEqual(glyph("A"));
  });

  it("refuses what it cannot draw, with the reason (8 bits per pixel: a palette)", () => {
    const r = spawnSync(exe, ["800", "600", "8", "0", "0", "0", "0", "0", "0"]);
    expect(r.stdout.toString()).toBe("refused: not 15, 16, 24 or 32 bits per pixel\n");
  });
});
