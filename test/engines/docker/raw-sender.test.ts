import dgram from "node:dgram";
import { execFileSync } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { startRawSender } from "../../../src/engines/docker/raw-sender.js";
import { encodeIpv4Udp } from "../../../src/net/ipv4.js";
import { parseAddress } from "../../../src/net/address-number.js";

/** Raw sockets need root and python3, as the lab's runners have; elsewhere the test says why it skips. */
function rawSocketsHere(): string | null {
  if (process.getuid?.() !== 0) return "raw sockets need root";
  try {
    execFileSync("python3", ["-c", "pass"]);
  } catch {
    return "no python3";
  }
  return null;
}
const missing = rawSocketsHere();
if (missing) console.log(`raw sender test skipped: ${missing}`);

describe.runIf(missing === null)("the runner's raw IP sender", () => {
  it("sends a datagram handed over ahead of its time at that time, after idling, and reports when each left, in order", async () => {
    const socket = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => socket.bind({ address: "127.0.0.1", port: 0 }, resolve));
    const port = socket.address().port;
    const arrivals: Array<{ text: string; ns: bigint }> = [];
    socket.on("message", (payload) => arrivals.push({ text: payload.toString("latin1"), ns: process.hrtime.bigint() }));
    const sender = await startRawSender();
    // Idle first, as a runner waits seconds for a replay's start.
    await sleep(500);
    const datagram = (text: string) => encodeIpv4Udp({ src: parseAddress("127.0.0.1"), dst: parseAddress("127.0.0.1"), sport: 40_000, dport: port, payload: new TextEncoder().encode(text) });
    const handedNs = process.hrtime.bigint();
    const firstAtNs = handedNs + 30_000_000n;
    const times: Array<[string, bigint, bigint]> = [];
    sender.send(datagram("first"), firstAtNs, (before, after) => times.push(["first", before, after]));
    // Already past: it goes at once, after the one before it.
    sender.send(datagram("second"), handedNs - 1_000_000n, (before, after) => times.push(["second", before, after]));
    await sender.close();
    await sleep(20);
    socket.close();
    expect(arrivals.map((arrival) => arrival.text)).toEqual(["first", "second"]);
    expect(times.map(([name]) => name)).toEqual(["first", "second"]);
    const [, before, after] = times[0]!;
    // Not before its time, and not when it was handed over (30 ms earlier).
    expect(before).toBeGreaterThanOrEqual(firstAtNs);
    expect(arrivals[0]!.ns).toBeGreaterThanOrEqual(firstAtNs);
    expect(after).toBeGreaterThanOrEqual(before);
    expect(Number(before - firstAtNs) / 1e6, "ms late").toBeLessThan(10);
  });
});
