/* VGA text mode as a screen backend: a cell is a character byte and an attribute byte in the text
 * buffer (0xB8000 on a PC); the cursor is the CRT controller's (IBM VGA: CRTC registers 0Eh/0Fh
 * Cursor Location High/Low, 0Ah/0Bh Cursor Start/End). Used when a BIOS left text mode: GRUB's
 * i386-pc, or QEMU's -kernel. */
#include "screen.h"

#define CRTC_INDEX 0x3D4              /* colour CRT controller (the mono one, 0x3B4, is not used) */
#define CRTC_DATA 0x3D5
#define CRTC_CURSOR_START 0x0A        /* bit 5: cursor off; bits 4..0: first scan line */
#define CRTC_CURSOR_END 0x0B          /* bits 4..0: last scan line */
#define CRTC_CURSOR_HIGH 0x0E
#define CRTC_CURSOR_LOW 0x0F
#define CURSOR_FIRST_LINE 14          /* an underline in the 16-line cell */
#define CURSOR_LAST_LINE 15
#define ATTRIBUTE_GREY_ON_BLACK 0x07
#define TEXT_COLUMNS_MAX 256

static volatile u16 *text;
static u32 cells_per_row;             /* pitch / 2 */

static void crtc_write(u8 index, u8 v) { outb(CRTC_INDEX, index); outb(CRTC_DATA, v); }

static void vga_draw(u32 row, u32 column, u8 c, bool cursor) {
  (void)cursor; /* the CRT controller draws the cursor */
  if (c < FONT_FIRST_CHAR || c > FONT_LAST_CHAR) c = '?';
  text[row * cells_per_row + column] = (u16)(ATTRIBUTE_GREY_ON_BLACK << 8 | c);
}

static void vga_place_cursor(u32 row, u32 column) {
  u32 at = row * cells_per_row + column;
  crtc_write(CRTC_CURSOR_HIGH, (u8)(at >> 8));
  crtc_write(CRTC_CURSOR_LOW, (u8)at);
}

bool vga_text_init(u64 addr, u32 pitch, u32 columns, u32 rows, struct screen_backend *b) {
  /* The text buffer is in the first MiB, which the boot page tables map (and the firmware's
   * MTRRs make uncached). */
  if (addr == 0 || addr + (u64)pitch * rows > 0x100000 || pitch < 2 * columns || columns == 0 ||
      columns > TEXT_COLUMNS_MAX || rows == 0)
    return false;
  text = (volatile u16 *)(uintptr_t)addr;
  cells_per_row = pitch / 2;
  crtc_write(CRTC_CURSOR_START, CURSOR_FIRST_LINE);   /* bit 5 clear: shown */
  crtc_write(CRTC_CURSOR_END, CURSOR_LAST_LINE);
  b->columns = columns;
  b->rows = rows;
  b->draw = vga_draw;
  b->place_cursor = vga_place_cursor;
  return true;
}
