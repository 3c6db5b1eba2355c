import { describe, expect, it } from "vitest";
import { piecesOfWrite } from "../../src/traffic/write-pieces.js";

describe("a TCP write as its sender cut it", () => {
  it("gives each cut in order and the rest last, and ignores cuts past the end", () => {
    const write = new TextEncoder().encode("REGISTER sip:x SIP/2.0");
    const text = (pieces: Uint8Array[]) => pieces.map((piece) => new TextDecoder().decode(piece));
    expect(text(piecesOfWrite(write, [4]))).toEqual(["REGI", "STER sip:x SIP/2.0"]);
    expect(text(piecesOfWrite(write, [4, 5]))).toEqual(["REGI", "STER ", "sip:x SIP/2.0"]);
    expect(text(piecesOfWrite(write, [4, 100, 3]))).toEqual(["REGI", "STER sip:x SIP/2.0"]);
    expect(text(piecesOfWrite(write))).toEqual(["REGISTER sip:x SIP/2.0"]);
  });
});
