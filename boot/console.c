/* COM1 16550 console: polled output (LF becomes CR LF), polled input, and a tiny printf. */
#include <stdarg.h>
#include "kernel.h"

#define COM1 0x3F8

void serial_init(void) {
  outb(COM1 + 1, 0x00); /* no UART interrupts: we poll */
  outb(COM1 + 3, 0x80); /* DLAB */
  outb(COM1 + 0, 0x01); /* 115200 baud */
  outb(COM1 + 1, 0x00);
  outb(COM1 + 3, 0x03); /* 8N1 */
  /* FCR untouched: enabling the FIFOs makes QEMU flush them, losing bytes already typed.
   * Without FIFOs QEMU holds further input back until the guest reads, so nothing is lost. */
  outb(COM1 + 4, 0x03); /* DTR, RTS */
}

static void serial_out(char c) {
  for (int i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++) cpu_relax();
  outb(COM1, (u8)c);
}

void console_putc(char c) {
  if (c == '\n') serial_out('\r');
  serial_out(c);
}

void console_write_bytes(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) console_putc(s[i]);
}

void kputs(const char *s) {
  while (*s) console_putc(*s++);
}

int serial_getc_nowait(void) {
  if (inb(COM1 + 5) & 0x01) return inb(COM1);
  return -1;
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
}
