/* The PS/2 keyboard as console input, next to COM1: the i8042 keyboard controller (data port
 * 0x60, status and command port 0x64), polled from console_read's wait (no IRQ 1). The keyboard
 * sends scancode set 2, which the controller translates to set 1 (the configuration byte's
 * translate bit, set here). A US layout: letters, digits and punctuation with Shift and Caps Lock;
 * Ctrl with a letter (and [ \ ]) types the control byte (Ctrl-C 0x03, Ctrl-U 0x15, ...); Enter is
 * CR and Backspace DEL, as a terminal sends them; arrows, Home, End, Insert, Delete, Page Up and
 * Down are the VT100/xterm escape sequences the shell's line editor reads; the keypad types digits
 * (Num Lock on, as most firmware leaves it) or moves (Num Lock off). Function keys, Alt and the
 * rest type nothing. Firmware "USB legacy support" shows a USB keyboard through the same ports.
 * A machine without the controller reads 0xFF from the status port: then there is no keyboard,
 * and every wait here is bounded. */
#include "kernel.h"

#define I8042_DATA 0x60
#define I8042_STATUS 0x64             /* read */
#define I8042_COMMAND 0x64            /* write */
#define STATUS_OUTPUT_FULL 0x01       /* a byte waits at the data port */
#define STATUS_INPUT_FULL 0x02        /* the controller has not taken the last byte written */
#define STATUS_AUX_DATA 0x20          /* the waiting byte is the mouse's */
#define STATUS_NO_CONTROLLER 0xFF     /* an undecoded port */
#define CMD_READ_CONFIG 0x20
#define CMD_WRITE_CONFIG 0x60
#define CMD_DISABLE_AUX 0xA7
#define CMD_DISABLE_KEYBOARD 0xAD
#define CMD_ENABLE_KEYBOARD 0xAE
#define CONFIG_KEYBOARD_IRQ 0x01
#define CONFIG_AUX_IRQ 0x02
#define CONFIG_KEYBOARD_CLOCK_OFF 0x10
#define CONFIG_TRANSLATE 0x40
#define KEYBOARD_ENABLE_SCANNING 0xF4 /* firmware may have left scanning off */
#define KEYBOARD_ACK 0xFA
#define WAIT_NS 20000000ULL           /* 20 ms for each byte to or from the controller */
#define FLUSH_BYTES_MAX 64
#define POLL_BYTES_MAX 16             /* scancodes taken per poll */

/* Scancode set 1 (make codes; a break code is the make code | 0x80). */
#define SC_BREAK 0x80
#define SC_EXTENDED 0xE0              /* the next code is an extended key */
#define SC_PAUSE 0xE1                 /* Pause: E1 1D 45 E1 9D C5, no break code */
#define SC_PAUSE_TAIL_BYTES 5
#define SC_LEFT_CTRL 0x1D             /* E0 1D: right Ctrl */
#define SC_LEFT_SHIFT 0x2A
#define SC_RIGHT_SHIFT 0x36
#define SC_LEFT_ALT 0x38
#define SC_CAPS_LOCK 0x3A
#define SC_NUM_LOCK 0x45
#define SC_KEYPAD_FIRST 0x47          /* 7/Home .. ./Delete */
#define SC_KEYPAD_LAST 0x53
#define SC_MAP_LAST 0x39              /* the tables below end at Space */
#define RESPONSE_ACK 0xFA             /* bytes the keyboard answers commands with, not keys */
#define RESPONSE_RESEND 0xFE
#define RESPONSE_ECHO 0xEE
#define RESPONSE_ERROR 0xFF
#define RESPONSE_ERROR_2 0x00
#define KEY_ESC 0x1B
#define KEY_DEL 0x7F

#define QUEUE_BYTES 16                /* a power of two */

/* Set 1 codes 0x00..0x39 as ASCII, without and with Shift; 0 types nothing (modifiers). */
static const char plain[SC_MAP_LAST + 1] =
  "\0\x1b" "1234567890-=" "\x7f" "\t" "qwertyuiop[]" "\r" "\0" "asdfghjkl;'`" "\0" "\\zxcvbnm,./" "\0" "*" "\0" " ";
static const char shifted[SC_MAP_LAST + 1] =
  "\0\x1b" "!@#$%^&*()_+" "\x7f" "\t" "QWERTYUIOP{}" "\r" "\0" "ASDFGHJKL:\"~" "\0" "|ZXCVBNM<>?" "\0" "*" "\0" " ";
/* The keypad, 0x47..0x53, with Num Lock on; with it off the navigation keys below. */
static const char keypad_digits[SC_KEYPAD_LAST - SC_KEYPAD_FIRST + 1] = "789-456+1230.";

enum ps2_state { PS2_UNTRIED, PS2_ABSENT, PS2_READY };
static enum ps2_state state;
static bool shift_left, shift_right, ctrl_left, ctrl_right, caps_lock, num_lock = true, extended;
static u32 pause_bytes;               /* Pause's bytes still to skip */
static u8 queue[QUEUE_BYTES];
static u32 queue_head, queue_tail;    /* free-running counters */

/* ---- the controller ------------------------------------------------------------------------ */

static bool wait_status(u8 mask, bool set) {
  u64 start = time_ns();
  for (;;) {
    u8 s = inb(I8042_STATUS);
    if (s == STATUS_NO_CONTROLLER) return false;
    if (((s & mask) != 0) == set) return true;
    if (time_ns() - start > WAIT_NS) return false;
    cpu_relax();
  }
}

static bool send_command(u8 cmd) {
  if (!wait_status(STATUS_INPUT_FULL, false)) return false;
  outb(I8042_COMMAND, cmd);
  return true;
}

static bool send_data(u8 v) {
  if (!wait_status(STATUS_INPUT_FULL, false)) return false;
  outb(I8042_DATA, v);
  return true;
}

static int read_data(void) {
  if (!wait_status(STATUS_OUTPUT_FULL, true)) return -1;
  return inb(I8042_DATA);
}

static void flush_output(void) {
  for (int i = 0; i < FLUSH_BYTES_MAX && (inb(I8042_STATUS) & STATUS_OUTPUT_FULL); i++) (void)inb(I8042_DATA);
}

/* Keyboard port on, mouse port off, translation on, no interrupts (we poll), scanning on. */
static bool controller_start(void) {
  if (inb(I8042_STATUS) == STATUS_NO_CONTROLLER) return false;
  if (!send_command(CMD_DISABLE_KEYBOARD) || !send_command(CMD_DISABLE_AUX)) return false;
  flush_output();
  if (!send_command(CMD_READ_CONFIG)) return false;
  int config = read_data();
  if (config < 0) return false;
  config = (config & ~(CONFIG_KEYBOARD_IRQ | CONFIG_AUX_IRQ | CONFIG_KEYBOARD_CLOCK_OFF)) | CONFIG_TRANSLATE;
  if (!send_command(CMD_WRITE_CONFIG) || !send_data((u8)config)) return false;
  if (!send_command(CMD_ENABLE_KEYBOARD)) return false;
  /* No keyboard plugged in: no ACK; the controller is still there (a keyboard may come later). */
  if (send_data(KEYBOARD_ENABLE_SCANNING)) {
    for (int i = 0; i < FLUSH_BYTES_MAX; i++) {
      int r = read_data();
      if (r < 0 || r == KEYBOARD_ACK) break;
    }
  }
  return true;
}

/* ---- keys to bytes --------------------------------------------------------------------------- */

static u32 queue_free(void) { return QUEUE_BYTES - (queue_tail - queue_head); }

/* Queues a key's bytes whole, or not at all. */
static void type_bytes(const char *s, u32 n) {
  if (queue_free() < n) return;
  for (u32 i = 0; i < n; i++) queue[queue_tail++ % QUEUE_BYTES] = (u8)s[i];
}

static void type_byte(char c) { type_bytes(&c, 1); }

static void type_csi(const char *tail) { /* ESC [ tail */
  char s[8] = { KEY_ESC, '[' };
  u32 n = 2;
  while (*tail && n < sizeof(s)) s[n++] = *tail++;
  type_bytes(s, n);
}

/* The navigation keys: extended codes, and the keypad's with Num Lock off. */
static bool navigation(u8 code) {
  switch (code) {
  case 0x48: type_csi("A"); return true;   /* Up */
  case 0x50: type_csi("B"); return true;   /* Down */
  case 0x4D: type_csi("C"); return true;   /* Right */
  case 0x4B: type_csi("D"); return true;   /* Left */
  case 0x47: type_csi("H"); return true;   /* Home */
  case 0x4F: type_csi("F"); return true;   /* End */
  case 0x52: type_csi("2~"); return true;  /* Insert */
  case 0x53: type_csi("3~"); return true;  /* Delete */
  case 0x49: type_csi("5~"); return true;  /* Page Up */
  case 0x51: type_csi("6~"); return true;  /* Page Down */
  default: return false;
  }
}

static void extended_key(u8 code, bool released) {
  if (code == SC_LEFT_CTRL) { ctrl_right = !released; return; }      /* right Ctrl */
  if (released) return;
  if (code == 0x1C) type_byte('\r');                                   /* keypad Enter */
  else if (code == 0x35) type_byte('/');                               /* keypad / */
  else navigation(code);                                               /* E0 2A/36 (fake Shift) and the rest: nothing */
}

static void key(u8 code, bool released) {
  if (code == SC_LEFT_SHIFT) { shift_left = !released; return; }
  if (code == SC_RIGHT_SHIFT) { shift_right = !released; return; }
  if (code == SC_LEFT_CTRL) { ctrl_left = !released; return; }
  if (released) return;
  if (code == SC_CAPS_LOCK) { caps_lock = !caps_lock; return; }
  if (code == SC_NUM_LOCK) { num_lock = !num_lock; return; }
  if (code >= SC_KEYPAD_FIRST && code <= SC_KEYPAD_LAST) {
    bool digits = num_lock != (shift_left || shift_right);
    if (digits || !navigation(code)) type_byte(keypad_digits[code - SC_KEYPAD_FIRST]);
    return;
  }
  if (code > SC_MAP_LAST) return;                                      /* F-keys, Scroll Lock, ... */
  bool shift = shift_left || shift_right;
  char c = shift ? shifted[code] : plain[code];
  if (c == 0) return;
  if (caps_lock && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) c ^= 0x20;
  if (ctrl_left || ctrl_right) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) c &= 0x1F;      /* Ctrl-A .. Ctrl-Z */
    else if (c == '[' || c == '\\' || c == ']') c &= 0x1F;               /* ESC, FS, GS */
  }
  type_byte(c);
}

static void scancode(u8 b) {
  if (pause_bytes) { pause_bytes--; return; }
  if (b == RESPONSE_ACK || b == RESPONSE_RESEND || b == RESPONSE_ECHO || b == RESPONSE_ERROR || b == RESPONSE_ERROR_2) return;
  if (b == SC_EXTENDED) { extended = true; return; }
  if (b == SC_PAUSE) { pause_bytes = SC_PAUSE_TAIL_BYTES; return; }
  bool released = (b & SC_BREAK) != 0;
  u8 code = b & ~SC_BREAK;
  if (extended) { extended = false; extended_key(code, released); return; }
  key(code, released);
}

/* A byte typed on the keyboard, or -1. */
int ps2_getc_nowait(void) {
  if (state == PS2_UNTRIED) state = controller_start() ? PS2_READY : PS2_ABSENT;
  if (state != PS2_READY) return -1;
  for (int i = 0; i < POLL_BYTES_MAX && queue_tail == queue_head; i++) {
    u8 s = inb(I8042_STATUS);
    if (!(s & STATUS_OUTPUT_FULL) || s == STATUS_NO_CONTROLLER) break;
    u8 b = inb(I8042_DATA);
    if (!(s & STATUS_AUX_DATA)) scancode(b);
  }
  if (queue_tail == queue_head) return -1;
  return queue[queue_head++ % QUEUE_BYTES];
}
