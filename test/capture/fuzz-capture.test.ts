import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CaptureError } from "../../src/capture/capture-error.js";
import { decodeFrame } from "../../src/capture/decode-frame.js";
import { pcapngFile } from "../../src/capture/pcapng-writer.js";
import { openCapture } from "../../src/capture/read-capture.js";
import { registersPcap, sipDatagram, writeTemp } from "../helpers/capture-files.js";

const valid = [
  registersPcap(20),
  registersPcap(20, { nanosecond: true, bigEndian: true }),
  pcapngFile(Array.from({ length: 20 }, (_, i) => ({ timestampUs: i * 1000, bytes: sipDatagram("198.18.1.1", `REGISTER sip:x SIP/2.0\r\nCSeq: ${i} REGISTER\r\n\r\n`), comment: `p${i}` }))),
];

/** Reads a whole file; resolves with the frame count or the CaptureError, rejects on anything else. */
async function readOutcome(bytes: Uint8Array): Promise<number | CaptureError> {
  const path = writeTemp(bytes);
  try {
    const capture = await openCapture(path);
    let frames = 0;
    for await (const frame of capture) {
      decodeFrame(frame); // decoding garbage must not throw either
      frames++;
      if (frames > 10_000) throw new Error("more frames than the file can hold: the reader is looping");
    }
    return frames;
  } catch (error) {
    if (error instanceof CaptureError) return error;
    throw error;
  }
}

describe("reading corrupted captures (property tests)", () => {
  it("random truncation never crashes or hangs: it errors with an offset inside the file, or reads a prefix", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...valid), fc.nat(), async (file, cutSeed) => {
        const cut = cutSeed % file.length;
        const outcome = await readOutcome(file.subarray(0, cut));
        if (outcome instanceof CaptureError) {
          expect(outcome.offset ?? 0).toBeLessThanOrEqual(cut);
        } else {
          expect(outcome).toBeLessThanOrEqual(20);
        }
      }),
      { numRuns: 150 },
    );
  });

  it("random byte corruption never crashes or hangs, and never yields more packets than bytes allow", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...valid),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 20 }),
        async (file, edits) => {
          const corrupted = file.slice();
          for (const [position, value] of edits) corrupted[position % corrupted.length] = value;
          const outcome = await readOutcome(corrupted);
          if (typeof outcome === "number") expect(outcome).toBeLessThanOrEqual(corrupted.length / 12);
        },
      ),
      { numRuns: 200 },
    );
  });
});
