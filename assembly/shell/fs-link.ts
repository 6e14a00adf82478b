// The shell's side of fs.wasm (docs/fs-interface.md): a request built here, sent through the
// host's fs.call, the response read here. The host copies both ways; the modules share nothing.
import {
  FSQ_OP, FSQ_NS, FSQ_PART, FSQ_INDEX, FSQ_OFFSET, FSQ_LENGTH, FSQ_PATH_BYTES, FSQ_PATH, FS_PATH_BYTES_MAX,
  FS_REQUEST_BYTES_MAX, FS_RESPONSE_BYTES_MAX, FSR_STATUS, FSR_TEXT_BYTES, FSR_TEXT, FS_TEXT_BYTES_MAX, FS_STATUS_ERROR,
} from "../common/fs-abi";
import { put, putBytes } from "../common/console";

// Copies the request into fs.wasm's inbox, runs it, copies the response back: its length, or -1.
@external("fs", "call")
declare function fs_call(reqPtr: usize, reqLen: u32, respPtr: usize, respCap: u32): i32;

const request: usize = memory.data(<i32>FS_REQUEST_BYTES_MAX, 8);
export const response: usize = memory.data(<i32>FS_RESPONSE_BYTES_MAX, 8);
// Why the last request failed: the link (no fs module, a bad answer) rather than the filesystem.
export let linkFailed = false;

// Sends one request; true when fs.wasm answered with success (or FS_STATUS_END), false when it
// answered with an error (fsWhy prints it) or the link failed.
export function fsRequest(op: u32, ns: u32, part: u32, index: u32, offset: u64, length: u32, path: usize, pathBytes: u32): bool {
  linkFailed = false;
  if (pathBytes > FS_PATH_BYTES_MAX) { linkFailed = true; return false; }
  store<u32>(request + <usize>FSQ_OP, op);
  store<u32>(request + <usize>FSQ_NS, ns);
  store<u32>(request + <usize>FSQ_PART, part);
  store<u32>(request + <usize>FSQ_INDEX, index);
  store<u64>(request + <usize>FSQ_OFFSET, offset);
  store<u32>(request + <usize>FSQ_LENGTH, length);
  store<u32>(request + <usize>FSQ_PATH_BYTES, pathBytes);
  memory.copy(request + <usize>FSQ_PATH, path, <usize>pathBytes);
  const n = fs_call(request, FSQ_PATH + pathBytes, response, FS_RESPONSE_BYTES_MAX);
  if (n < <i32>FSR_TEXT || <u32>n != FSR_TEXT + fsTextBytes() || fsTextBytes() > FS_TEXT_BYTES_MAX) { linkFailed = true; return false; }
  return load<u32>(response + <usize>FSR_STATUS) != FS_STATUS_ERROR;
}

export function fs32(field: u32): u32 { return load<u32>(response + <usize>field); }
export function fs64(field: u32): u64 { return load<u64>(response + <usize>field); }
export function fsText(): usize { return response + <usize>FSR_TEXT; }
export function fsTextBytes(): u32 { return load<u32>(response + <usize>FSR_TEXT_BYTES); }

// Why the last request failed, in words (printable: fs.wasm's texts are ASCII, names aside, which
// are shown through putQuoted by the caller).
export function fsWhy(): void {
  if (linkFailed) { put("no answer from the filesystem module (fs.wasm missing, or a path longer than 1024 bytes)"); return; }
  putBytes(fsText(), <i32>fsTextBytes());
}
