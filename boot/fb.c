/* A linear framebuffer as a screen backend: each cell is a glyph of the PSF font (font.c) drawn
 * in grey on black, the cursor's cell inverted. Used under UEFI, where there is no text mode and
 * GRUB hands over the firmware's graphics mode (Multiboot 0.6.96, 3.3: framebuffer_type 1, direct
 * RGB, with each colour's bit position and size). The framebuffer is mapped write-combining and
 * never read: screen.c keeps the text, so a scroll is a redraw of the cells that changed. */
#include "screen.h"

#define GREY 0xAA                     /* the VGA palette's light grey, per colour component */
#define BITS_PER_COMPONENT 8
#define SCALE_MAX 4                   /* glyphs drawn 1..4 times their size on big screens */

static volatile u8 *base;
static u32 pitch, bytes_per_pixel, scale;
static u32 foreground, background;    /* pixel values */

/* An 8-bit colour component in a field of `bits` bits at `position`. */
static u32 component(u32 v, u8 position, u8 bits) {
  if (bits == 0) return 0;
  if (bits < BITS_PER_COMPONENT) v >>= BITS_PER_COMPONENT - bits;
  return v << position;
}

static void put_pixel(volatile u8 *p, u32 v) {
  if (bytes_per_pixel == 4) *(volatile u32 *)p = v;
  else if (bytes_per_pixel == 2) *(volatile u16 *)p = (u16)v;
  else { p[0] = (u8)v; p[1] = (u8)(v >> 8); p[2] = (u8)(v >> 16); }
}

static void fb_draw(u32 row, u32 column, u8 c, bool cursor) {
  u32 glyph = (c >= FONT_FIRST_CHAR && c <= FONT_LAST_CHAR) ? (u32)(c - FONT_FIRST_CHAR) : FONT_REPLACEMENT_GLYPH;
  const u8 *rows = font_rows + glyph * font_height;
  u32 on = cursor ? background : foreground, off = cursor ? foreground : background;
  u32 cell_height = font_height * scale, cell_width = FONT_WIDTH * scale;
  volatile u8 *line = base + (u64)row * cell_height * pitch + (u64)column * cell_width * bytes_per_pixel;
  for (u32 y = 0; y < cell_height; y++, line += pitch) {
    u8 bits = rows[y / scale];
    volatile u8 *p = line;
    for (u32 x = 0; x < cell_width; x++, p += bytes_per_pixel)
      put_pixel(p, (bits & (0x80 >> (x / scale))) ? on : off);
  }
}

static void clear_all(u32 width, u32 height) {
  for (u32 y = 0; y < height; y++) {
    volatile u8 *p = base + (u64)y * pitch;
    for (u32 x = 0; x < width; x++, p += bytes_per_pixel) put_pixel(p, background);
  }
}

bool fb_init(const struct framebuffer_info *fb, struct screen_backend *b, const char **why) {
  if (fb->bpp != 32 && fb->bpp != 24 && fb->bpp != 16 && fb->bpp != 15) { *why = "not 15, 16, 24 or 32 bits per pixel"; return false; }
  bytes_per_pixel = (fb->bpp + 7) / 8;
  if (fb->width < FONT_WIDTH || fb->height < font_height || fb->pitch < fb->width * bytes_per_pixel) {
    *why = "smaller than one character, or a pitch shorter than a row";
    return false;
  }
  /* The biggest glyphs that still give the terminal at least 80 columns, and at most its grid. */
  scale = 1;
  while (scale < SCALE_MAX && fb->width / (FONT_WIDTH * (scale + 1)) >= 80 &&
         (fb->width / (FONT_WIDTH * scale) > SCREEN_COLUMNS_MAX || fb->height / (font_height * scale) > SCREEN_ROWS_MAX))
    scale++;
  u64 bytes = (u64)fb->pitch * fb->height;
  base = map_framebuffer(fb->addr, bytes);
  if (!base) { *why = "it cannot be mapped (above 2^47, or the page tables are full)"; return false; }
  pitch = fb->pitch;
  foreground = component(GREY, fb->red_position, fb->red_bits) | component(GREY, fb->green_position, fb->green_bits) |
               component(GREY, fb->blue_position, fb->blue_bits);
  background = 0;
  clear_all(fb->width, fb->height);
  b->columns = fb->width / (FONT_WIDTH * scale);
  b->rows = fb->height / (font_height * scale);
  b->draw = fb_draw;
  b->place_cursor = 0;
  return true;
}
