/* The console on the screen: a small terminal that shows what a VT100-style terminal on the serial
 * line would, so that a PC without a serial port has a console. It takes every console byte:
 * printable ASCII; CR, LF (CR LF: the serial side's translation), BS, TAB (stops every 8
 * columns); other control bytes are ignored (BEL too). Of the escape sequences, those the shell's
 * line editor and progress lines write (docs/shell.md), ESC [ n A/B/C/D (cursor up, down, right,
 * left), ESC [ r ; c H (and f: cursor to row r, column c), ESC [ n G (to column n), ESC [ n J (0 to
 * the end of the screen, 1 from its start, 2 or 3 all), ESC [ n K (0 to the end of the line, 1
 * from its start, 2 all); any other CSI sequence (ESC [ ... m, colours) is read and ignored, as
 * is ESC followed by anything but [. Writing at the last column leaves the cursor there and the
 * next character wraps, as xterm does.
 *
 * The text lives in `cells`, a ring of rows (a scroll moves its top: no copying); what the screen
 * shows in `shown`. Output changes cells only; a render draws the cells that differ (so a scroll
 * costs what changed, and a framebuffer is never read), at most every RENDER_INTERVAL_NS while output streams, and at once for the kernel's own
 * lines and when the console waits for input (console.c decides). */
#include <string.h>
#include "screen.h"

#define MB_BOOT_MAGIC 0x2BADB002
#define MBI_FLAGS 0                   /* byte offsets in the multiboot information (Multiboot 0.6.96, 3.3) */
#define MBI_FRAMEBUFFER_ADDR 88       /* u64 */
#define MBI_FRAMEBUFFER_PITCH 96      /* u32 */
#define MBI_FRAMEBUFFER_WIDTH 100     /* u32: pixels, or characters in EGA text */
#define MBI_FRAMEBUFFER_HEIGHT 104    /* u32 */
#define MBI_FRAMEBUFFER_BPP 108       /* u8 */
#define MBI_FRAMEBUFFER_TYPE 109      /* u8 */
#define MBI_COLOR_INFO 110            /* type 1: red position, red bits, green ..., blue ... (u8 each) */
#define MBI_HAS_FRAMEBUFFER (1u << 12)
#define FB_TYPE_INDEXED 0
#define FB_TYPE_RGB 1
#define FB_TYPE_EGA_TEXT 2
#define VGA_TEXT_ADDR 0xB8000ULL      /* where a BIOS keeps mode 3's text: no framebuffer information */
#define VGA_TEXT_COLUMNS 80
#define VGA_TEXT_ROWS 25

#define RENDER_INTERVAL_NS 20000000ULL /* 50 renders a second at most while output streams */
#define TAB_COLUMNS 8
#define CSI_PARAMS_MAX 2              /* row ; column: more are read and ignored */
#define CSI_PARAM_MAX 9999
#define CSI_BYTES_MAX 16              /* parameter and intermediate bytes, then the rest is skipped */
#define ESC 0x1B

enum escape_state { ESC_NONE, ESC_START, ESC_CSI, ESC_SKIP };

static struct screen_backend screen;
static bool active;
static u8 cells[SCREEN_ROWS_MAX][SCREEN_COLUMNS_MAX];
static u32 top;                       /* the ring's row shown at the top of the screen */
static u8 shown[SCREEN_ROWS_MAX][SCREEN_COLUMNS_MAX];
static bool row_changed[SCREEN_ROWS_MAX];
static bool all_changed;              /* a scroll: every row may differ */
static bool changed;                  /* some cell or the cursor differs from the screen */
static u32 row, column;               /* the cursor */
static bool wrap_pending;             /* a character went to the last column */
static u32 shown_row, shown_column;   /* where the screen shows the cursor */
static u64 last_render_ns;
static enum escape_state escape;
static u32 params[CSI_PARAMS_MAX], param_count, csi_bytes;

/* ---- the text --------------------------------------------------------------------------------- */

/* Row r of the screen (0 at the top) in the ring. */
static u8 *text_row(u32 r) {
  u32 i = top + r;
  return cells[i < screen.rows ? i : i - screen.rows];
}

static void mark_row(u32 r) { row_changed[r] = true; changed = true; }

static void erase(u32 r, u32 from, u32 to) { /* columns [from, to) of row r */
  if (from >= to) return;
  memset(text_row(r) + from, ' ', to - from);
  mark_row(r);
}

static void scroll_up(void) {
  top = top + 1 < screen.rows ? top + 1 : 0; /* the old top row becomes the new bottom one */
  erase(screen.rows - 1, 0, screen.columns);
  all_changed = true;
}

static void line_feed(void) {
  if (row + 1 < screen.rows) row++;
  else scroll_up();
}

static void put_visible(u8 c) {
  if (wrap_pending) { column = 0; line_feed(); wrap_pending = false; }
  text_row(row)[column] = c;
  mark_row(row);
  if (column + 1 < screen.columns) column++;
  else wrap_pending = true;
}

static u32 clamp(u32 v, u32 lo, u32 hi) { return v < lo ? lo : v > hi ? hi : v; }
static u32 param_or(u32 i, u32 dflt) { return (i < param_count && params[i]) ? params[i] : dflt; }

static void erase_display(u32 how) {
  if (how == 0) {
    erase(row, column, screen.columns);
    for (u32 r = row + 1; r < screen.rows; r++) erase(r, 0, screen.columns);
  } else if (how == 1) {
    for (u32 r = 0; r < row; r++) erase(r, 0, screen.columns);
    erase(row, 0, column + 1);
  } else {
    for (u32 r = 0; r < screen.rows; r++) erase(r, 0, screen.columns);
  }
}

static void erase_line(u32 how) {
  if (how == 0) erase(row, column, screen.columns);
  else if (how == 1) erase(row, 0, column + 1);
  else erase(row, 0, screen.columns);
}

/* The final byte of ESC [ params: the cursor moves and erasures of the header comment. */
static void csi_final(u8 f) {
  u32 n = param_or(0, 1), last_row = screen.rows - 1, last_column = screen.columns - 1;
  wrap_pending = false;
  switch (f) {
  case 'A': row = row > n ? row - n : 0; break;
  case 'B': row = clamp(row + n, 0, last_row); break;
  case 'C': column = clamp(column + n, 0, last_column); break;
  case 'D': column = column > n ? column - n : 0; break;
  case 'G': column = clamp(n - 1, 0, last_column); break;
  case 'H': case 'f':
    row = clamp(param_or(0, 1) - 1, 0, last_row);
    column = clamp(param_or(1, 1) - 1, 0, last_column);
    break;
  case 'J': erase_display(param_count ? params[0] : 0); break;
  case 'K': erase_line(param_count ? params[0] : 0); break;
  default: break; /* SGR (m) and the rest: read, not shown */
  }
  changed = true; /* the cursor may have moved */
}

/* A byte inside an escape sequence. False when it ended the sequence without belonging to it
 * (a control byte): the caller then handles it as a byte of its own, as a terminal does. */
static bool escape_byte(u8 c) {
  if (c < 0x20 || c == 0x7F) { escape = ESC_NONE; return false; }
  if (escape == ESC_START) {
    if (c == '[') { escape = ESC_CSI; param_count = 0; params[0] = params[1] = 0; csi_bytes = 0; }
    else escape = ESC_NONE; /* ESC c, ESC 7, ...: two-byte sequences, not shown */
    return true;
  }
  bool final = c >= 0x40 && c <= 0x7E;
  if (escape == ESC_SKIP) { if (final) escape = ESC_NONE; return true; }
  if (final) { escape = ESC_NONE; csi_final(c); return true; }
  if (++csi_bytes > CSI_BYTES_MAX) { escape = ESC_SKIP; return true; }
  if (c >= '0' && c <= '9') {
    if (param_count == 0) param_count = 1;
    if (param_count <= CSI_PARAMS_MAX) {
      u32 *p = &params[param_count - 1];
      *p = *p * 10 + (u32)(c - '0');
      if (*p > CSI_PARAM_MAX) *p = CSI_PARAM_MAX;
    }
  } else if (c == ';') {
    if (param_count == 0) param_count = 1;
    if (param_count < CSI_PARAMS_MAX) params[param_count] = 0;
    param_count++;
  } /* '?' and intermediates: read, not used */
  return true;
}

void screen_putc(char ch) {
  u8 c = (u8)ch;
  if (!active) return;
  if (escape != ESC_NONE && escape_byte(c)) return;
  switch (c) {
  case '\n': column = 0; wrap_pending = false; line_feed(); changed = true; break;
  case '\r': column = 0; wrap_pending = false; changed = true; break;
  case '\b': if (column > 0) column--; wrap_pending = false; changed = true; break; /* from a pending wrap too, as xterm */
  case '\t': column = clamp((column / TAB_COLUMNS + 1) * TAB_COLUMNS, 0, screen.columns - 1); changed = true; break;
  case ESC: escape = ESC_START; break;
  default:
    if (c >= 0x20) put_visible(c); /* DEL and bytes above 0x7F: the replacement glyph */
    break;
  }
}

/* ---- drawing -------------------------------------------------------------------------------- */

static void render(void) {
  bool cursor_moved = row != shown_row || column != shown_column;
  if (cursor_moved && !screen.place_cursor) { /* the old cursor cell, drawn plain */
    u8 c = text_row(shown_row)[shown_column];
    screen.draw(shown_row, shown_column, c, false);
    shown[shown_row][shown_column] = c;
  }
  for (u32 r = 0; r < screen.rows; r++) {
    if (!row_changed[r] && !all_changed) continue;
    row_changed[r] = false;
    const u8 *text = text_row(r);
    for (u32 c = 0; c < screen.columns; c++) {
      if (text[c] == shown[r][c]) continue;
      shown[r][c] = text[c];
      screen.draw(r, c, text[c], r == row && c == column);
    }
  }
  all_changed = false;
  if (screen.place_cursor) screen.place_cursor(row, column);
  else screen.draw(row, column, text_row(row)[column], true);
  shown_row = row;
  shown_column = column;
  changed = false;
}

void screen_render(bool now) {
  if (!active || !changed) return;
  u64 t = time_ns();
  if (!now && t - last_render_ns < RENDER_INTERVAL_NS) return;
  last_render_ns = t;
  render();
}

/* ---- set-up ----------------------------------------------------------------------------------- */

static void start(void) {
  if (screen.columns > SCREEN_COLUMNS_MAX) screen.columns = SCREEN_COLUMNS_MAX;
  if (screen.rows > SCREEN_ROWS_MAX) screen.rows = SCREEN_ROWS_MAX;
  memset(cells, ' ', sizeof(cells));
  top = 0;
  memset(shown, 0, sizeof(shown)); /* no glyph: the first render draws every cell */
  for (u32 r = 0; r < screen.rows; r++) row_changed[r] = true;
  row = column = shown_row = shown_column = 0;
  active = true;
  changed = true;
  render();
}

/* The screen the boot loader left: a framebuffer it describes, its EGA text mode, or (with no
 * description: QEMU's -kernel, a BIOS) VGA text mode 3. Without a usable one the console is the
 * serial port's only, and the reason goes there. */
void screen_init(u32 magic, u32 info) {
  if (magic != MB_BOOT_MAGIC) return;
  const u8 *mbi = (const u8 *)(uintptr_t)info;
  u32 flags = *(const u32 *)(mbi + MBI_FLAGS);
  if (!(flags & MBI_HAS_FRAMEBUFFER)) {
    if (vga_text_init(VGA_TEXT_ADDR, 2 * VGA_TEXT_COLUMNS, VGA_TEXT_COLUMNS, VGA_TEXT_ROWS, &screen)) start();
    return;
  }
  struct framebuffer_info fb = {
    .addr = *(const u64 *)(mbi + MBI_FRAMEBUFFER_ADDR),
    .pitch = *(const u32 *)(mbi + MBI_FRAMEBUFFER_PITCH),
    .width = *(const u32 *)(mbi + MBI_FRAMEBUFFER_WIDTH),
    .height = *(const u32 *)(mbi + MBI_FRAMEBUFFER_HEIGHT),
    .bpp = mbi[MBI_FRAMEBUFFER_BPP],
    .red_position = mbi[MBI_COLOR_INFO], .red_bits = mbi[MBI_COLOR_INFO + 1],
    .green_position = mbi[MBI_COLOR_INFO + 2], .green_bits = mbi[MBI_COLOR_INFO + 3],
    .blue_position = mbi[MBI_COLOR_INFO + 4], .blue_bits = mbi[MBI_COLOR_INFO + 5],
  };
  u8 type = mbi[MBI_FRAMEBUFFER_TYPE];
  const char *why = "of an unknown type";
  bool ok = false;
  if (type == FB_TYPE_EGA_TEXT) {
    ok = vga_text_init(fb.addr, fb.pitch, fb.width, fb.height, &screen);
    why = "EGA text outside the first MiB, or of an odd size";
  } else if (type == FB_TYPE_RGB) {
    ok = fb_init(&fb, &screen, &why);
  } else if (type == FB_TYPE_INDEXED) {
    why = "indexed colour (a palette), which this console does not draw";
  }
  if (ok) { start(); return; }
  kprintf("screen: the boot loader's framebuffer (%ux%u, %u bits per pixel, type %u at 0x%lx) is %s: the console is on the serial port only\n",
          fb.width, fb.height, (unsigned)fb.bpp, (unsigned)type, fb.addr, why);
}
