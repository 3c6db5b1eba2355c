import { describe, expect, it } from "vitest";
import { decodeFrame } from "../../src/capture/decode-frame.js";
import { openCapture } from "../../src/capture/read-capture.js";
import { sipMethodOf } from "../../src/sip/sip-method-of.js";
import { haveSharedCaptures, publicCaptures, sharedCapture } from "../helpers/shared-captures.js";
import { haveTshark, tsharkPackets } from "../helpers/tshark.js";

function epoch(ns: bigint): string {
  return `${ns / 1_000_000_000n}.${(ns % 1_000_000_000n).toString().padStart(9, "0")}`;
}

describe.skipIf(!haveSharedCaptures || !haveTshark)("reading the public captures agrees with tshark", () => {
  it.each(publicCaptures)("%s: same packets, timestamps and SIP methods", async (name) => {
    const path = sharedCapture(name);
    const ours: Array<{ time: string; sip: string }> = [];
    const capture = await openCapture(path);
    for await (const frame of capture) {
      const packet = decodeFrame(frame);
      const sip = typeof packet === "string" ? "" : (sipMethodOf(packet.payload) ?? "");
      ours.push({ time: epoch(frame.timestampNs), sip });
    }
    const theirs = tsharkPackets(path);
    expect(ours.length).toBe(theirs.length);
    expect(ours.map((packet) => packet.time)).toEqual(theirs.map((packet) => packet.time));
    // tshark only dissects SIP it recognises; where it names a method or status, ours must agree.
    const disagreements = theirs.flatMap((packet, index) => (packet.sip && packet.sip !== ours[index]!.sip ? [`${index}: tshark ${packet.sip}, slamlab ${ours[index]!.sip}`] : []));
    expect(disagreements).toEqual([]);
    expect(theirs.filter((packet) => packet.sip).length).toBeGreaterThan(0);
    expect([...capture.warnings.counts.keys()]).toEqual([]);
  });
});
