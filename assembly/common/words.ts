// Why a controller failed or a namespace was refused: the codes of the describe records, and the
// words both the driver (in its log) and its clients (in `info`) print for them, as ASCII Texts.
import { ascii, Text } from "./console";

// Controller failure reasons (CTRL_FAIL_REASON).
export const FAIL_NONE: u32 = 0;
export const FAIL_BAR0_MAP: u32 = 1;
export const FAIL_BAR0_SMALL: u32 = 2;
export const FAIL_CSS: u32 = 3;
export const FAIL_MQES: u32 = 4;
export const FAIL_DSTRD: u32 = 5;
export const FAIL_MPS: u32 = 6;
export const FAIL_QUEUE_MEMORY: u32 = 7;
export const FAIL_PRP_MEMORY: u32 = 8;
export const FAIL_RESET_RDY_STAYS: u32 = 9;
export const FAIL_RESET_RDY: u32 = 10;
export const FAIL_ENABLE_RDY: u32 = 11;
export const FAIL_IDENTIFY: u32 = 12;
export const FAIL_SQES: u32 = 13;
export const FAIL_CQES: u32 = 14;
export const FAIL_CNTRLTYPE: u32 = 15;
export const FAIL_NS_LIST: u32 = 16;
export const FAIL_IDENTIFY_NS: u32 = 17;
export const FAIL_NUMBER_OF_QUEUES: u32 = 18;
export const FAIL_CREATE_CQ: u32 = 19;
export const FAIL_CREATE_SQ: u32 = 20;
export const FAIL_DELETE_SQ: u32 = 21;
export const FAIL_DELETE_CQ: u32 = 22;
export const FAIL_SHUTDOWN: u32 = 23;
export const FAIL_MEMORY: u32 = 24;
export const FAIL_DRAIN: u32 = 25;
export const FAIL_DMA_48_BIT: u32 = 26;
export const FAIL_DOORBELL_BUFFER: u32 = 27;

export function failText(reason: u32): Text {
  switch (reason) {
    case FAIL_BAR0_MAP: return ascii("BAR0 cannot be mapped (not a memory BAR, or unassigned)");
    case FAIL_BAR0_SMALL: return ascii("BAR0 is too small for the NVMe registers");
    case FAIL_CSS: return ascii("CAP.CSS: the NVM command set is not supported");
    case FAIL_MQES: return ascii("CAP.MQES is below 2 entries");
    case FAIL_DSTRD: return ascii("CAP.DSTRD puts the doorbells outside BAR0");
    case FAIL_MPS: return ascii("no usable memory page size in CAP.MPSMIN..MPSMAX");
    case FAIL_QUEUE_MEMORY: return ascii("out of DMA memory for queues");
    case FAIL_PRP_MEMORY: return ascii("out of DMA memory for PRP lists");
    case FAIL_RESET_RDY_STAYS: return ascii("reset: CSTS.RDY stays 1");
    case FAIL_RESET_RDY: return ascii("reset: CSTS.RDY did not clear");
    case FAIL_ENABLE_RDY: return ascii("enable: CSTS.RDY did not become 1");
    case FAIL_IDENTIFY: return ascii("Identify Controller failed");
    case FAIL_SQES: return ascii("Identify: 64-byte SQ entries not supported");
    case FAIL_CQES: return ascii("Identify: 16-byte CQ entries not supported");
    case FAIL_CNTRLTYPE: return ascii("Identify: not an IO controller (CNTRLTYPE)");
    case FAIL_NS_LIST: return ascii("Identify active namespace list failed");
    case FAIL_IDENTIFY_NS: return ascii("Identify Namespace failed");
    case FAIL_NUMBER_OF_QUEUES: return ascii("Set Features Number of Queues failed");
    case FAIL_CREATE_CQ: return ascii("Create IO Completion Queue failed");
    case FAIL_CREATE_SQ: return ascii("Create IO Submission Queue failed");
    case FAIL_DELETE_SQ: return ascii("Delete IO Submission Queue failed");
    case FAIL_DELETE_CQ: return ascii("Delete IO Completion Queue failed");
    case FAIL_SHUTDOWN: return ascii("shutdown: CSTS.SHST did not report complete");
    case FAIL_MEMORY: return ascii("out of DMA memory for a controller");
    case FAIL_DRAIN: return ascii("shutdown: requests did not complete");
    case FAIL_DMA_48_BIT: return ascii("the DMA window is beyond the controller's 48-bit DMA addressing");
    case FAIL_DOORBELL_BUFFER: return ascii("Doorbell Buffer Config got no answer");
  }
  return ascii("unknown failure");
}

// Namespace refusals (NS_REFUSED).
export const REFUSED_NONE: u32 = 0;
export const REFUSED_METADATA: u32 = 1;     // the format in use carries metadata (MS > 0)
export const REFUSED_BLOCK_SIZE: u32 = 2;   // LBA data size outside 512 B .. 64 KiB
export const REFUSED_BAD_FORMAT: u32 = 3;   // FLBAS points past NLBAF: the device's data is inconsistent
export const REFUSED_EMPTY: u32 = 4;        // NSZE is 0
export const REFUSED_OVER_MDTS: u32 = 5;    // one block is more than the controller moves in a command
export const REFUSED_COMMAND_SET: u32 = 6;  // not the NVM command set (e.g. zoned): its rules are not kept

export function refusedText(reason: u32): Text {
  switch (reason) {
    case REFUSED_METADATA: return ascii("metadata per block is not supported");
    case REFUSED_BLOCK_SIZE: return ascii("logical block size outside 512 B to 64 KiB");
    case REFUSED_BAD_FORMAT: return ascii("FLBAS selects a format beyond NLBAF");
    case REFUSED_EMPTY: return ascii("namespace size is 0");
    case REFUSED_OVER_MDTS: return ascii("logical block larger than the controller's MDTS");
    case REFUSED_COMMAND_SET: return ascii("not an NVM command set namespace (e.g. zoned): its rules are not kept");
  }
  return ascii("");
}
