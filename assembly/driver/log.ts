// How much the driver says: error lines always; bring-up, reset and shutdown lines at LOG_NORMAL
// (start's logLevel). Error lines are counted (console.ts) so the host can tell a clean run.
import { LOG_NORMAL } from "../common/abi";

let level: u32 = LOG_NORMAL;

export function setLogLevel(l: u32): void { level = l; }

// True when informational lines are wanted.
export function logging(): bool { return level >= LOG_NORMAL; }
