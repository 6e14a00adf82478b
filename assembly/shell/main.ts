// shell.wasm: the command language of docs/shell.md, as a client of the NVMe driver. It has its own
// memory and imports only the block interface the host provides (client.ts), the console, time, the
// command line and poweroff: no register, no DMA address, no interrupt.
//
// main(): the host has started the driver (its bring-up lines are out); the shell shows what a
// stopped bring-up saw, runs the boot command line (';'-separated), then the `nvme> ` prompt unless
// a command was poweroff; then the driver's orderly shutdown, and poweroff with code 0 only when no
// error line was printed (by the shell or the driver), error lines of commands typed at an
// interactive console (console=tty, session.ts) aside.
import { cmdline, poweroff, driver_errors, shutdown } from "./client";
import { put, putLine, putDec, newline, putError, errorLines } from "../common/console";
import { interactive } from "./prompt";
import { showStoppedControllers } from "./commands";
import { runCommands, poweroffRequested } from "./dispatch";
import { setConsoleTty, typedErrors } from "./session";

const CMDLINE_CAP: i32 = 4096;
const commandLine: usize = memory.data(CMDLINE_CAP);

const CHAR_SEMICOLON: u32 = 59;
const CHAR_SPACE: u32 = 32;
const CHAR_TAB: u32 = 9;

function isBlank(b: u32): bool { return b == CHAR_SPACE || b == CHAR_TAB; }

function itemIs(ptr: usize, len: i32, s: string): bool {
  if (len != s.length) return false;
  for (let k = 0; k < len; k++) if (<i32>load<u8>(ptr + <usize>k) != s.charCodeAt(k)) return false;
  return true;
}

// Whether the boot command line's last console= item (';'-separated, blanks around it aside) is
// console=tty. console=script and console=tty are the driver's to check (an error line for any
// other value); the shell only reads which one it is.
function consoleIsTty(ptr: usize, len: i32): bool {
  let tty = false;
  let start = 0;
  for (let i = 0; i <= len; i++) {
    if (i < len && <u32>load<u8>(ptr + <usize>i) != CHAR_SEMICOLON) continue;
    let a = start;
    let b = i;
    while (a < b && isBlank(<u32>load<u8>(ptr + <usize>a))) a++;
    while (b > a && isBlank(<u32>load<u8>(ptr + <usize>(b - 1)))) b--;
    if (itemIs(ptr + <usize>a, b - a, "console=tty")) tty = true;
    else if (itemIs(ptr + <usize>a, b - a, "console=script")) tty = false;
    start = i + 1;
  }
  return tty;
}

export function main(): i32 {
  let len = cmdline(commandLine, CMDLINE_CAP);
  if (len > CMDLINE_CAP) {
    putError();
    putLine("boot command line longer than 4096 bytes, ignored");
    len = 0;
  }
  if (len < 0) len = 0;
  setConsoleTty(consoleIsTty(commandLine, len));
  showStoppedControllers();
  runCommands(commandLine, len);
  if (!poweroffRequested) interactive();
  shutdown(); // flush, delete queues, CC.SHN: its error lines count in driver_errors()
  const code = errorLines - typedErrors + driver_errors() == 0 ? 0 : 1;
  put("poweroff code="); putDec(<u64>code); newline();
  poweroff(code);
  return code;
}
