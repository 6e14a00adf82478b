/* The console: output to COM1 (a 16550, polled; LF becomes CR LF) and to the screen (screen.c),
 * input from COM1 and the PS/2 keyboard (ps2.c), and a tiny printf. A PC without COM1 reads 0xFF
 * from its ports: then the serial side does nothing and the screen and keyboard are the console.
 *
 * Output never drops a byte silently: each byte waits until the transmitter holding register is
 * empty (LSR.THRE). A UART that stays busy for TX_WAIT_SECONDS is taken as stuck: the byte is
 * written anyway (it may replace one still waiting, or go nowhere), the loss is counted, later
 * bytes wait only TX_STUCK_WAIT_MS each so a dead UART cannot stall the kernel for a second per
 * byte, and once the UART takes bytes again one line says how many may have been lost. Under QEMU
 * THRE comes back as soon as the chardev backend took the byte: a reader that stops reading (a
 * full pipe) holds it, which is how a busy test host used to lose bytes to a fixed poll count. */
#include <stdarg.h>
#include "kernel.h"

#define COM1 0x3F8
#define UART_SCRATCH 7                /* scratch register: reads back what was written */
#define SCRATCH_PROBE 0x5A
#define UART_LSR 5                    /* line status register */
#define LSR_DATA_READY 0x01
#define LSR_THRE 0x20                 /* transmitter holding register empty */
#define TX_WAIT_SECONDS 1
#define TX_STUCK_WAIT_MS 10
#define TSC_HZ_BEFORE_CALIBRATION 4000000000ULL /* an upper bound: the wait is at least as long */

static u64 tx_lost;                   /* bytes written while the UART was not ready */
static bool tx_stuck;                 /* the last wait timed out */
static bool uart_present;

static void serial_init(void) {
  /* No UART: nothing decodes the ports, reads give 0xFF (and LSR "data ready" forever). */
  outb(COM1 + UART_SCRATCH, SCRATCH_PROBE);
  uart_present = inb(COM1 + UART_SCRATCH) == SCRATCH_PROBE && inb(COM1 + UART_LSR) != 0xFF;
  if (!uart_present) return;
  outb(COM1 + 1, 0x00); /* no UART interrupts: we poll */
  outb(COM1 + 3, 0x80); /* DLAB */
  outb(COM1 + 0, 0x01); /* 115200 baud */
  outb(COM1 + 1, 0x00);
  outb(COM1 + 3, 0x03); /* 8N1 */
  /* FCR untouched: enabling the FIFOs makes QEMU flush them, losing bytes already typed.
   * Without FIFOs QEMU holds further input back until the guest reads, so nothing is lost. */
  outb(COM1 + 4, 0x03); /* DTR, RTS */
}

/* Waits up to `ticks` TSC ticks for THRE; the only exit besides success is the bound. */
static bool thr_empty_within(u64 ticks) {
  if (inb(COM1 + UART_LSR) & LSR_THRE) return true;
  u64 start = rdtsc();
  while (!(inb(COM1 + UART_LSR) & LSR_THRE)) {
    if (rdtsc() - start > ticks) return false;
    cpu_relax();
  }
  return true;
}

static void serial_put_raw(char c) {
  if (!uart_present) return;
  u64 hz = tsc_hz() ? tsc_hz() : TSC_HZ_BEFORE_CALIBRATION;
  u64 bound = tx_stuck ? hz / 1000 * TX_STUCK_WAIT_MS : hz * TX_WAIT_SECONDS;
  if (thr_empty_within(bound)) {
    tx_stuck = false;
  } else {
    tx_stuck = true;
    tx_lost++;
  }
  outb(COM1, (u8)c);
}

static void put_raw_string(const char *s) {
  for (; *s; s++) {
    if (*s == '\n') serial_put_raw('\r');
    serial_put_raw(*s);
  }
}

static void put_raw_dec(u64 v) {
  char b[24];
  int n = 0;
  do { b[n++] = (char)('0' + v % 10); v /= 10; } while (v);
  while (n) serial_put_raw(b[--n]);
}

/* One line about bytes written while the UART was not ready, once the UART takes bytes again
 * (or at poweroff); then the count starts over. */
void console_report_loss(void) {
  if (tx_lost == 0 || tx_stuck) return;
  u64 n = tx_lost;
  tx_lost = 0;
  put_raw_string("console: ");
  put_raw_dec(n);
  put_raw_string(" bytes of output may be lost: the UART was not ready for 1 s\n");
}

static void serial_out(char c) {
  serial_put_raw(c);
  if (c == '\n' && tx_lost) console_report_loss(); /* at a line start, never mid-line */
}

void console_init(u32 multiboot_magic, u32 multiboot_info) {
  serial_init();
  screen_init(multiboot_magic, multiboot_info);
}

static void put_both(char c) {
  if (c == '\n') serial_out('\r');
  serial_out(c);
  screen_putc(c);
}

/* The kernel's own lines are drawn at once (the next thing may be a halt); the guests' output,
 * which can stream, at the screen's pace (screen_render). */
void console_putc(char c) {
  put_both(c);
  if (c == '\n') screen_render(true);
}

void console_write_bytes(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) put_both(s[i]);
  screen_render(false);
}

void kputs(const char *s) {
  while (*s) put_both(*s++);
  screen_render(true);
}

static int serial_getc_nowait(void) {
  if (uart_present && (inb(COM1 + UART_LSR) & LSR_DATA_READY)) return inb(COM1);
  return -1;
}

/* Called in a loop while a guest waits for input: with nothing typed, output not drawn yet is. */
int console_getc_nowait(void) {
  int c = serial_getc_nowait();
  if (c < 0) c = ps2_getc_nowait();
  if (c < 0) screen_render(false);
  return c;
}

static void put_num(u64 v, unsigned base, int width, char pad, bool neg) {
  char buf[24];
  int n = 0;
  do { buf[n++] = "0123456789abcdef"[v % base]; v /= base; } while (v);
  if (neg) buf[n++] = '-';
  while (n < width) buf[n++] = pad;
  while (n) console_putc(buf[--n]);
}

/* %s %c %d %u %x with optional 0/width and l/ll; %p. Enough for the kernel's messages. */
void kprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  for (; *fmt; fmt++) {
    if (*fmt != '%') { console_putc(*fmt); continue; }
    fmt++;
    char pad = ' ';
    int width = 0, longs = 0;
    if (*fmt == '0') { pad = '0'; fmt++; }
    while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
    while (*fmt == 'l') { longs++; fmt++; }
    switch (*fmt) {
    case 's': { const char *s = va_arg(ap, const char *); kputs(s ? s : "(null)"); break; }
    case 'c': console_putc((char)va_arg(ap, int)); break;
    case 'd': {
      s64 v = longs ? va_arg(ap, s64) : va_arg(ap, int);
      put_num(v < 0 ? -(u64)v : (u64)v, 10, width, pad, v < 0);
      break;
    }
    case 'u': put_num(longs ? va_arg(ap, u64) : va_arg(ap, unsigned), 10, width, pad, false); break;
    case 'x': put_num(longs ? va_arg(ap, u64) : va_arg(ap, unsigned), 16, width, pad, false); break;
    case 'p': kputs("0x"); put_num((u64)(uintptr_t)va_arg(ap, void *), 16, 0, ' ', false); break;
    case '%': console_putc('%'); break;
    default: console_putc('?'); break;
    }
  }
  va_end(ap);
  screen_render(true);
}
