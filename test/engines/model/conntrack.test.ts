import { describe, expect, it } from "vitest";
import { ConntrackTable } from "../../../src/engines/model/conntrack.js";
import { defaultKernelSettings } from "../../../src/engines/model/kernel-settings.js";
import { HZ, PBX, START, udpPacket } from "../../helpers/firewall.js";

const request = udpPacket("198.18.1.1", "REGISTER sip:x SIP/2.0\r\n\r\n", { sport: 5060 });
const reply = udpPacket(PBX, "SIP/2.0 401 Unauthorized\r\n\r\n", { sport: 5060, dport: 5060, dst: "198.18.1.1" });

function accepted(table: ConntrackTable, packet: typeof request, jiffies: number) {
  const classification = table.classify(packet, START + jiffies);
  table.commit(classification);
  return classification;
}

describe("UDP conntrack model", () => {
  it("a dropped NEW packet leaves no entry (only accepted packets are confirmed)", () => {
    const table = new ConntrackTable(defaultKernelSettings);
    expect(table.classify(request, START).state).toBe("NEW");
    expect(table.size()).toBe(0);
    expect(table.classify(request, START + 1).state).toBe("NEW");
  });

  it("stays NEW until the PBX replies; the reply and everything after it are ESTABLISHED", () => {
    const table = new ConntrackTable(defaultKernelSettings);
    expect(accepted(table, request, 0).state).toBe("NEW");
    expect(accepted(table, request, 10).state).toBe("NEW");
    const answer = accepted(table, reply, 20);
    expect([answer.state, answer.reply]).toEqual(["ESTABLISHED", true]);
    const next = accepted(table, request, 30);
    expect([next.state, next.reply, next.seenReply]).toEqual(["ESTABLISHED", false, true]);
  });

  it("an unreplied flow dies after nf_conntrack_udp_timeout (30 s) without traffic", () => {
    const table = new ConntrackTable(defaultKernelSettings);
    accepted(table, request, 0);
    expect(table.classify(request, START + 30 * HZ - 1).entry?.timeout).toBeDefined();
    const fresh = new ConntrackTable(defaultKernelSettings);
    accepted(fresh, request, 0);
    accepted(fresh, reply, 1);
    // Replied but not yet a stream: the reply refreshed it to 30 s from then.
    expect(fresh.classify(request, START + 1 + 30 * HZ).state).toBe("NEW");
  });

  it("a flow still active 2 s after it started becomes a stream: 120 s timeout and ASSURED", () => {
    const table = new ConntrackTable(defaultKernelSettings);
    accepted(table, request, 0);
    accepted(table, reply, 1);
    const streamed = accepted(table, request, 3 * HZ);
    expect(streamed.assured).toBe(true);
    expect(table.classify(request, START + 3 * HZ + 119 * HZ).state).toBe("ESTABLISHED");
    expect(table.classify(request, START + 3 * HZ + 119 * HZ + 121 * HZ).state).toBe("NEW");
  });

  it("keeps finding every flow of a table far larger than it started (5,000 flows and their replies), and forgets each when it times out", () => {
    const table = new ConntrackTable(defaultKernelSettings);
    const addresses = Array.from({ length: 5_000 }, (_, index) => `198.18.${index >> 8}.${index & 255}`);
    for (const address of addresses) accepted(table, udpPacket(address, "REGISTER sip:x SIP/2.0\r\n\r\n", { sport: 5060 }), 0);
    expect(table.size()).toBe(5_000);
    const answers = addresses.map((address) => accepted(table, udpPacket(PBX, "SIP/2.0 401 Unauthorized\r\n\r\n", { sport: 5060, dport: 5060, dst: address }), 1));
    expect(answers.every((answer) => answer.state === "ESTABLISHED" && answer.reply)).toBe(true);
    // Every flow timed out (30 s after its reply): the sweep a minute on removes them all, and a packet starts a new one.
    expect(table.classify(udpPacket(addresses[4_999]!, "x", { sport: 5060 }), START + 61 * HZ).state).toBe("NEW");
    expect(table.size()).toBe(0);
  });

  it("prints entries the way conntrack -L does", () => {
    const table = new ConntrackTable(defaultKernelSettings);
    accepted(table, request, 0);
    expect(table.dump(START)).toEqual([
      `udp      17 30 src=198.18.1.1 dst=${PBX} sport=5060 dport=5060 [UNREPLIED] src=${PBX} dst=198.18.1.1 sport=5060 dport=5060`,
    ]);
  });
});
