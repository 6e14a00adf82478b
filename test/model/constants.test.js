// Status words and field helpers.
import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { statusName, packStatus, unpackStatus, opcodeName, field, CC, CAP } from "../../host/nvme/constants.js";

describe("constants", () => {
  it("statusName gives the spec's words", () => {
    expect(statusName(0, 0x00)).toBe("Successful Completion");
    expect(statusName(0, 0x02)).toBe("Invalid Field in Command");
    expect(statusName(0, 0x0b)).toBe("Invalid Namespace or Format");
    expect(statusName(0, 0x13)).toBe("PRP Offset Invalid");
    expect(statusName(0, 0x20)).toBe("Namespace is Write Protected");
    expect(statusName(0, 0x80)).toBe("LBA Out of Range");
    expect(statusName(1, 0x01)).toBe("Invalid Queue Identifier");
    expect(statusName(1, 0x0c)).toBe("Invalid Queue Deletion");
    expect(statusName(2, 0x80)).toBe("Write Fault");
    expect(statusName(2, 0x81)).toBe("Unrecovered Read Error");
    expect(statusName(0, 0x7e)).toBe("Unknown Status (SCT 0, SC 0x7e)");
    expect(statusName(7, 0xc1)).toBe("Vendor Specific 0xc1");
  });

  it("packStatus/unpackStatus round-trip SC, SCT, More and DNR", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 7 }),
        fc.boolean(),
        fc.boolean(),
        (sc, sct, more, dnr) => {
          const u = unpackStatus(packStatus({ sc, sct, more, dnr }));
          return u.sc === sc && u.sct === sct && u.more === more && u.dnr === dnr && u.crd === 0;
        },
      ),
    );
  });

  it("opcode names and register fields", () => {
    expect(opcodeName(true, 0x06)).toBe("identify");
    expect(opcodeName(false, 0x02)).toBe("read");
    expect(opcodeName(false, 0x99)).toBe("io-0x99");
    const cc = (4 << 20) | (6 << 16) | (1 << 14) | (2 << 7) | 1;
    expect([
      field(cc, CC.EN),
      field(cc, CC.MPS),
      field(cc, CC.SHN),
      field(cc, CC.IOSQES),
      field(cc, CC.IOCQES),
    ]).toEqual([1, 2, 1, 6, 4]);
    expect(field(0x0040_0020_0f01_07ffn | (1n << 37n), CAP.MQES)).toBe(0x7ff);
    expect(field(0x0040_0020_0f01_07ffn, CAP.DSTRD)).toBe(0);
    expect(field(0x0040_0020_0f01_07ffn, CAP.MPSMAX)).toBe(4);
  });
});
