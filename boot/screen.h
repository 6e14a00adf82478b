/* The screen console's parts: the terminal (screen.c) keeps the text and the cursor and draws
 * what changed through a backend, VGA text mode (vga.c) or a linear framebuffer drawn with a PSF
 * font (fb.c, the glyphs in font.c, which boot/font.js generates). */
#ifndef BOOT_SCREEN_H
#define BOOT_SCREEN_H
#include "kernel.h"

#define FONT_FIRST_CHAR 0x20          /* font.c holds the glyphs of 0x20..0x7E ... */
#define FONT_LAST_CHAR 0x7E
#define FONT_REPLACEMENT_GLYPH (FONT_LAST_CHAR - FONT_FIRST_CHAR + 1) /* ... then one for any other byte */
#define FONT_WIDTH 8                  /* pixels: one byte a glyph row, the leftmost pixel in bit 7 */
extern const u32 font_height;         /* pixels (rows of a glyph) */
extern const u8 font_rows[];          /* glyph g's rows at font_rows[g * font_height] */

/* The framebuffer the boot loader describes (Multiboot 0.6.96, 3.3, flags bit 12). */
struct framebuffer_info {
  u64 addr;
  u32 pitch;                          /* bytes from one pixel row to the next */
  u32 width, height;                  /* pixels */
  u8 bpp;                             /* bits per pixel */
  u8 red_position, red_bits, green_position, green_bits, blue_position, blue_bits;
};

#define SCREEN_COLUMNS_MAX 256        /* the terminal's grid at most (a bigger screen shows it top left) */
#define SCREEN_ROWS_MAX 128

/* A backend: the grid it shows and how to draw one cell. */
struct screen_backend {
  u32 columns, rows;
  void (*draw)(u32 row, u32 column, u8 c, bool cursor); /* cursor: the cell the cursor is on */
  void (*place_cursor)(u32 row, u32 column);             /* a hardware cursor, or NULL */
};

bool vga_text_init(u64 addr, u32 pitch, u32 columns, u32 rows, struct screen_backend *b);
/* false (and why in `why`) when the framebuffer cannot be used. */
bool fb_init(const struct framebuffer_info *fb, struct screen_backend *b, const char **why);

#endif
