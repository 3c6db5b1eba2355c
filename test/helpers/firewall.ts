import { compileFirewall } from "../../src/engines/model/netfilter/interpreter.js";
import { defaultKernelSettings, type KernelSettings } from "../../src/engines/model/kernel-settings.js";
import type { CtState, MatchState, PacketContext } from "../../src/engines/model/netfilter/match.js";
import { parseRuleset } from "../../src/firewall/parse-ruleset.js";
import { parseIpv4 } from "../../src/net/address.js";
import { decodeIpv4, encodeIpv4Udp, internetChecksum } from "../../src/net/ipv4.js";
import { decodeIpv6, encodeIpv6Udp } from "../../src/net/ipv6.js";
import { parseAddress } from "../../src/net/address-number.js";
import type { IpFamily } from "../../src/firewall/ruleset.js";
import type { Packet } from "../../src/net/packet.js";

export const HZ = defaultKernelSettings.hz;
export const START = defaultKernelSettings.startJiffies;
export const PBX = "198.51.100.10";
/** The PBX's IPv6 address in the kernel checks (the documentation prefix). */
export const PBX6 = "2001:db8:100::10";

/** A REGISTER datagram as a phone at `src` sends it; over IPv6 when `src` is an IPv6 address. */
export function udpPacket(src: string, payload = "REGISTER sip:198.51.100.10 SIP/2.0\r\n\r\n", options: { dport?: number; sport?: number; ttl?: number; dst?: string; ipOptions?: Uint8Array; tos?: number; frag?: number } = {}): Packet {
  if (src.includes(":")) {
    return decodeIpv6(
      encodeIpv6Udp({
        src: parseAddress(src),
        dst: parseAddress(options.dst ?? PBX6),
        sport: options.sport ?? 5060,
        dport: options.dport ?? 5060,
        payload: Uint8Array.from(Buffer.from(payload, "latin1")),
        hopLimit: options.ttl ?? 64,
      }),
    );
  }
  const bytes = encodeIpv4Udp({
    src: parseIpv4(src),
    dst: parseIpv4(options.dst ?? PBX),
    sport: options.sport ?? 5060,
    dport: options.dport ?? 5060,
    // Latin-1, byte for byte, as the kernel oracles send it: binary payloads (IAX2 frames) keep their bytes.
    payload: Uint8Array.from(Buffer.from(payload, "latin1")),
    ttl: options.ttl ?? 64,
    ...(options.ipOptions ? { options: options.ipOptions } : {}),
  });
  if (options.tos || options.frag) {
    // The TOS byte and the flags/fragment field as the kernel oracles' senders write them, the header checksum made again.
    bytes[1] = options.tos ?? 0;
    bytes[6] = (options.frag ?? 0) >> 8;
    bytes[7] = (options.frag ?? 0) & 0xff;
    bytes[10] = 0;
    bytes[11] = 0;
    const checksum = internetChecksum(bytes, 0, (bytes[0]! & 0x0f) * 4);
    bytes[10] = checksum >> 8;
    bytes[11] = checksum & 0xff;
  }
  return decodeIpv4(bytes);
}

/** INPUT rules (iptables-save syntax, without the table wrapper; ip6tables' with family 6) compiled as the model runs them. */
export function firewallOf(inputRules: string, settings: Partial<KernelSettings> = {}, extraChains = "", localAddresses: readonly number[] = [], prepare?: (state: MatchState) => void, family: IpFamily = 4) {
  const text = `*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n${extraChains}${inputRules.trim()}\nCOMMIT\n`;
  const state: MatchState = { settings: { ...defaultKernelSettings, ...settings }, tables: new Map(), localAddresses };
  prepare?.(state);
  const firewall = compileFirewall(parseRuleset(text, "test.rules", undefined, family), state);
  return {
    state,
    /** Judges a packet at START + `atJiffies`; true when accepted. */
    accepts(packet: Packet, atJiffies: number, hook: "INPUT" | "FORWARD" | "OUTPUT" = "INPUT", ctState: CtState = "NEW"): boolean {
      return firewall.judge(hook, packet, contextAt(START + atJiffies, hook, ctState)).accepted;
    },
    judge(packet: Packet, atJiffies: number, hook: "INPUT" | "FORWARD" | "OUTPUT" = "INPUT") {
      return firewall.judge(hook, packet, contextAt(START + atJiffies, hook, "NEW"));
    },
    /** Judges a packet `ms` after START, with the jiffies and the nanosecond clock of that moment; true when accepted. */
    acceptsAtMs(packet: Packet, ms: number): boolean {
      const context = { ...contextAt(START + Math.floor((ms * HZ) / 1000)), clockNs: ms * 1_000_000 };
      return firewall.judge("INPUT", packet, context).accepted;
    },
    counters: () => firewall.counters(),
  };
}

export function contextAt(jiffies: number, hook: "INPUT" | "FORWARD" | "OUTPUT" = "INPUT", ctState: CtState = "NEW"): PacketContext {
  return { jiffies, ctState, ctReply: false, ctSeenReply: ctState === "ESTABLISHED", ctAssured: false, outInterface: hook === "INPUT" ? "" : "eth0", hook };
}
