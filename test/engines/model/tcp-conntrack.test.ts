import { describe, expect, it } from "vitest";
import { ConntrackTable } from "../../../src/engines/model/conntrack.js";
import { defaultKernelSettings } from "../../../src/engines/model/kernel-settings.js";
import { parseIpv4 } from "../../../src/net/address.js";
import { decodeIpv4, internetChecksum, IPPROTO_TCP } from "../../../src/net/ipv4.js";
import type { Packet } from "../../../src/net/packet.js";
import { encodeIpv4Tcp, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from "../../../src/net/tcp-segment.js";
import { HZ, PBX, START } from "../../helpers/firewall.js";

const PHONE = "198.18.1.1";
const PHONE_ISN = 1000;
const PBX_ISN = 5000;

/** A segment from the phone (port 40000) to the PBX's 5060, or back when `fromPbx`. */
function segment(flags: number, options: { fromPbx?: boolean; seq?: number; ack?: number; data?: string } = {}): Packet {
  const fromPbx = options.fromPbx ?? false;
  return decodeIpv4(
    encodeIpv4Tcp({
      src: parseIpv4(fromPbx ? PBX : PHONE),
      dst: parseIpv4(fromPbx ? PHONE : PBX),
      sport: fromPbx ? 5060 : 40000,
      dport: fromPbx ? 40000 : 5060,
      seq: options.seq ?? (fromPbx ? PBX_ISN : PHONE_ISN),
      ack: options.ack ?? 0,
      flags,
      payload: new TextEncoder().encode(options.data ?? ""),
    }),
  );
}

const syn = segment(TCP_SYN);
const synAck = segment(TCP_SYN | TCP_ACK, { fromPbx: true, ack: PHONE_ISN + 1 });
const ack = segment(TCP_ACK, { seq: PHONE_ISN + 1, ack: PBX_ISN + 1 });
const register = segment(TCP_PSH | TCP_ACK, { seq: PHONE_ISN + 1, ack: PBX_ISN + 1, data: "REGISTER sip:x SIP/2.0\r\n\r\n" });

/** Tracks a packet the filter then accepts, `atJiffies` after START. */
function accepted(table: ConntrackTable, packet: Packet, atJiffies: number) {
  const classification = table.classify(packet, START + atJiffies);
  table.commit(classification);
  return classification;
}

function stateOf(table: ConntrackTable, atJiffies = 0): string {
  return table.dump(START + atJiffies).join("\n");
}

describe("TCP segments", () => {
  it("carry valid IPv4 and TCP checksums", () => {
    const bytes = register.bytes;
    expect(internetChecksum(bytes, 0, 20)).toBe(0);
    const src = parseIpv4(PHONE);
    const dst = parseIpv4(PBX);
    const tcpLength = bytes.length - 20;
    const pseudo = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + IPPROTO_TCP + tcpLength;
    expect(internetChecksum(bytes, 20, tcpLength, pseudo)).toBe(0);
    expect([register.protocol, register.sport, register.dport, register.payloadOffset]).toEqual([6, 40000, 5060, 40]);
  });
});

describe("TCP conntrack model (nf_conntrack_proto_tcp.c)", () => {
  it("follows the handshake: SYN NEW in SYN_SENT, SYN/ACK ESTABLISHED in SYN_RECV, the ACK ESTABLISHED and ASSURED", () => {
    const table = new ConntrackTable(defaultKernelSettings);
    expect(accepted(table, syn, 0).state).toBe("NEW");
    expect(stateOf(table)).toContain("tcp      6 120 SYN_SENT src=198.18.1.1");
    expect(stateOf(table)).toContain("[UNREPLIED]");
    const answer = accepted(table, synAck, 1);
    expect([answer.state, answer.reply]).toEqual(["ESTABLISHED", true]);
    expect(stateOf(table, 1)).toContain("tcp      6 60 SYN_RECV");
    const third = accepted(table, ack, 2);
    expect([third.state, third.assured]).toEqual(["ESTABLISHED", true]);
    expect(stateOf(table, 2)).toContain("tcp      6 432000 ESTABLISHED");
    expect(stateOf(table, 2)).toContain("[ASSURED]");
    expect(accepted(table, register, 3).state).toBe("ESTABLISHED");
  });

  it("a dropped SYN leaves no entry, so its retransmission is NEW again", () => {
    const table = new ConntrackTable(defaultKernelSettings);
    expect(table.classify(syn, START).state).toBe("NEW");
    expect(table.size()).toBe(0);
    expect(table.classify(syn, START + HZ).state).toBe("NEW");
  });

  it("a retransmitted SYN does not renew the entry: it dies 120 s after the first", () => {
    const table = new ConntrackTable(defaultKernelSettings);
    accepted(table, syn, 0);
    expect(accepted(table, syn, 100 * HZ).state).toBe("NEW");
    expect(stateOf(table, 100 * HZ)).toContain(" 20 SYN_SENT");
    expect(table.classify(ack, START + 120 * HZ).state).toBe("NEW");
  });

  it("picks up a connection under way from a bare ACK (nf_conntrack_tcp_loose=1) for 300 s, not five days", () => {
    const table = new ConntrackTable(defaultKernelSettings);
    expect(accepted(table, register, 0).state).toBe("NEW");
    expect(stateOf(table)).toContain("tcp      6 300 ESTABLISHED");
    const strict = new ConntrackTable({ ...defaultKernelSettings, conntrackTcpLoose: false });
    expect(strict.classify(register, START).state).toBe("INVALID");
    expect(strict.classify(syn, START).state).toBe("NEW");
  });

  it("calls INVALID what no connection starts with and what no TCP sends", () => {
    const table = new ConntrackTable(defaultKernelSettings);
    for (const flags of [TCP_SYN | TCP_ACK, TCP_FIN | TCP_ACK, TCP_RST, TCP_SYN | TCP_FIN, TCP_FIN, 0]) {
      expect(table.classify(segment(flags), START).state, `flags ${flags}`).toBe("INVALID");
    }
    accepted(table, syn, 0);
    // The client cannot ACK before the SYN/ACK: SYN_SENT + ACK is invalid.
    expect(table.classify(ack, START + 1).state).toBe("INVALID");
  });

  it("ends the entry at an RST before any reply, and closes a replied one for 10 s", () => {
    const table = new ConntrackTable(defaultKernelSettings);
    accepted(table, syn, 0);
    accepted(table, segment(TCP_RST | TCP_ACK, { seq: PHONE_ISN + 1 }), 1);
    expect(table.size()).toBe(0);
    const replied = new ConntrackTable(defaultKernelSettings);
    accepted(replied, syn, 0);
    accepted(replied, synAck, 1);
    accepted(replied, ack, 2);
    accepted(replied, segment(TCP_RST | TCP_ACK, { fromPbx: true, seq: PBX_ISN + 1 }), 3);
    expect(stateOf(replied, 3)).toContain("tcp      6 10 CLOSE");
  });

  it("closes through FIN_WAIT, LAST_ACK and TIME_WAIT, and a new SYN on the same ports reopens it as NEW", () => {
    const table = new ConntrackTable(defaultKernelSettings);
    accepted(table, syn, 0);
    accepted(table, synAck, 1);
    accepted(table, ack, 2);
    accepted(table, segment(TCP_FIN | TCP_ACK, { seq: PHONE_ISN + 1, ack: PBX_ISN + 1 }), 3);
    expect(stateOf(table, 3)).toContain(" FIN_WAIT");
    accepted(table, segment(TCP_FIN | TCP_ACK, { fromPbx: true, seq: PBX_ISN + 1, ack: PHONE_ISN + 2 }), 4);
    expect(stateOf(table, 4)).toContain(" LAST_ACK");
    accepted(table, segment(TCP_ACK, { seq: PHONE_ISN + 2, ack: PBX_ISN + 2 }), 5);
    expect(stateOf(table, 5)).toContain("tcp      6 120 TIME_WAIT");
    const reopened = accepted(table, segment(TCP_SYN, { seq: 90_000 }), 6);
    expect([reopened.state, reopened.seenReply]).toEqual(["NEW", false]);
    expect(stateOf(table, 6)).toContain(" SYN_SENT");
  });

  it("lets a SYN inside an established connection pass as the connection's, without changing it", () => {
    const table = new ConntrackTable(defaultKernelSettings);
    accepted(table, syn, 0);
    accepted(table, synAck, 1);
    accepted(table, ack, 2);
    expect(accepted(table, segment(TCP_SYN, { seq: 77 }), 3).state).toBe("ESTABLISHED");
    expect(stateOf(table, 3)).toContain(" ESTABLISHED");
  });
});
