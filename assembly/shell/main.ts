// shell.wasm: the command language of docs/shell.md, as a client of the NVMe driver. It has its own
// memory and imports only the block interface the host provides (client.ts), the console, time, the
// command line and poweroff: no register, no DMA address, no interrupt.
//
// main(): the host has started the driver (its bring-up lines are out); the shell shows what a
// stopped bring-up saw, runs the boot command line (';'-separated), then the `nvme> ` prompt unless
// a command was poweroff; then the driver's orderly shutdown, and poweroff with code 0 only when no
// error line was printed (by the shell or the driver).
import { cmdline, poweroff, driver_errors, shutdown } from "./client";
import { put, putLine, putDec, newline, putError, errorLines } from "../common/console";
import { interactive } from "./prompt";
import { showStoppedControllers } from "./commands";
import { runCommands, poweroffRequested } from "./dispatch";

const CMDLINE_CAP: i32 = 4096;
const commandLine: usize = memory.data(CMDLINE_CAP);

export function main(): i32 {
  let len = cmdline(commandLine, CMDLINE_CAP);
  if (len > CMDLINE_CAP) {
    putError();
    putLine("boot command line longer than 4096 bytes, ignored");
    len = 0;
  }
  if (len < 0) len = 0;
  showStoppedControllers();
  runCommands(commandLine, len);
  if (!poweroffRequested) interactive();
  shutdown(); // flush, delete queues, CC.SHN: its error lines count in driver_errors()
  const code = errorLines + driver_errors() == 0 ? 0 : 1;
  put("poweroff code="); putDec(<u64>code); newline();
  poweroff(code);
  return code;
}
