// The host's link between two client modules (docs/fs-interface.md): a caller (the shell) sends a
// request to a server module (fs.wasm) with one import,
//   fs.call(reqPtr, reqLen, respPtr, respCap) -> i32
// and the host copies the request into the server's inbox (its export fs_inbox(), at most
// fs_inbox_bytes() bytes), runs fs_handle(reqLen), and copies the response (fs_outbox(), the length
// fs_handle returned) into the caller's memory. The modules never see each other's memory; the host
// knows nothing of the messages' contents. Answers the response's length, or -1 when a range is
// outside a memory, the request is too long, or the response does not fit respCap (nothing copied).
// boot/host.c does the same in C.

export const CALL_FAILED = -1;

// `caller()` and `server()` return the two modules' memories; `exports` are the server's.
export function serverImports(callerMemory, serverMemory, exports) {
  return {
    call(reqPtr, reqLen, respPtr, respCap) {
      reqPtr >>>= 0;
      reqLen >>>= 0;
      respPtr >>>= 0;
      respCap >>>= 0;
      const caller = new Uint8Array(callerMemory().buffer);
      if (!exports) return CALL_FAILED;
      const inbox = exports.fs_inbox() >>> 0;
      if (
        reqLen > exports.fs_inbox_bytes() >>> 0 ||
        reqPtr + reqLen > caller.length ||
        respPtr + respCap > caller.length
      )
        return CALL_FAILED;
      new Uint8Array(serverMemory().buffer).set(caller.subarray(reqPtr, reqPtr + reqLen), inbox);
      const respLen = exports.fs_handle(reqLen) >>> 0;
      const outbox = exports.fs_outbox() >>> 0;
      const server = new Uint8Array(serverMemory().buffer);
      if (respLen > respCap || outbox + respLen > server.length) return CALL_FAILED;
      new Uint8Array(callerMemory().buffer).set(server.subarray(outbox, outbox + respLen), respPtr);
      return respLen;
    },
  };
}
