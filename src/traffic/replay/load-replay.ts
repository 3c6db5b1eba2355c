import { decodeFrame, type DecodedPacket } from "../../capture/decode-frame.js";
import { describeWarnings } from "../../capture/captured-frame.js";
import { openCapture } from "../../capture/read-capture.js";
import { Ipv4Reassembler } from "../../capture/ipv4-reassembly.js";
import { decodeIpv4 } from "../../net/ipv4.js";
import { ScenarioError } from "../../scenario/scenario.js";
import type { TrafficSourceSpec } from "../../scenario/schema.js";
import { sipMethodOf } from "../../sip/sip-method-of.js";
import { decodeFullFrame, FRAME_TYPE_IAX, IaxCommand } from "../../iax2/iax2-frame.js";
import type { ReplayPacket, ReplayPlan } from "./replay-plan.js";

type ReplaySpec = Extract<TrafficSourceSpec, { kind: "replay" }>;

interface Candidate {
  readonly packet: DecodedPacket;
  readonly timestampNs: bigint;
  readonly ip: Uint8Array;
}

/**
 * Reads a capture once and picks what a replay sends: SIP packets (on the
 * SIP ports, or recognised by content elsewhere) and IAX2 frames (on the
 * IAX2 ports) to or from the capture's PBX, with the fragments that belong
 * to them, inside the time window.
 */
export async function loadReplay(spec: ReplaySpec, hostAddresses: readonly string[]): Promise<ReplayPlan> {
  const capture = await openCapture(spec.file, { allowTruncated: spec.allowTruncated });
  const skipped: Record<string, number> = {};
  const skip = (reason: string) => (skipped[reason] = (skipped[reason] ?? 0) + 1);
  const candidates: Candidate[] = [];
  const fragmentKeys = new Set<string>();
  const fragmentsWaiting: Candidate[] = [];
  const sipPorts = new Set(spec.sipPorts);
  const iax2Ports = new Set(spec.iax2Ports);
  let firstNs: bigint | null = null;
  // Who sent SIP requests to whom, fragmented ones reassembled, to tell the registrars apart.
  const requestsSeen: Array<{ src: string; dst: string }> = [];
  const reassembler = new Ipv4Reassembler();
  const noteRequest = (src: string, dst: string, payload: Uint8Array, iax2: boolean) => {
    if (iax2) {
      // A client opens an IAX2 call (REGREQ, NEW, POKE, REGREL) with destination call number 0.
      const frame = decodeFullFrame(payload);
      if (frame && frame.frameType === FRAME_TYPE_IAX && frame.destinationCall === 0 && IAX2_OPENERS.has(frame.subclass)) requestsSeen.push({ src, dst });
      return;
    }
    const method = sipMethodOf(payload);
    if (method !== null && !/^\d/.test(method)) requestsSeen.push({ src, dst });
  };

  for await (const frame of capture) {
    firstNs ??= frame.timestampNs;
    const packet = decodeFrame(frame);
    if (typeof packet === "string") {
      skip(packet);
      continue;
    }
    if (packet.ipVersion === 6 && packet.fragment) {
      skip("IPv6 fragment (not reassembled for a replay yet)");
      continue;
    }
    const candidate: Candidate = { packet, timestampNs: frame.timestampNs, ip: new Uint8Array(packet.ip) };
    const onIax2Port = packet.protocol === 17 && (iax2Ports.has(packet.sport) || iax2Ports.has(packet.dport));
    if (packet.fragment) {
      const whole = reassembler.add({ ip: candidate.ip, atUs: Number(frame.timestampNs / 1000n) });
      if (whole) {
        const reassembled = decodeIpv4(whole);
        noteRequest(packet.src, packet.dst, whole.subarray(reassembled.payloadOffset), onIax2Port);
      }
    } else {
      noteRequest(packet.src, packet.dst, packet.payload, onIax2Port);
    }
    const key = `${packet.src}>${packet.dst}#${packet.fragment?.id}`;
    if (packet.fragment && packet.fragment.offset !== 0) {
      fragmentsWaiting.push(candidate);
      continue;
    }
    if (onIax2Port && (packet.fragment !== null || isIax2Frame(packet.payload))) {
      if (packet.fragment) fragmentKeys.add(key);
      candidates.push(candidate);
      continue;
    }
    const isTransport = packet.protocol === 17 || packet.protocol === 6;
    const onSipPort = isTransport && (sipPorts.has(packet.sport) || sipPorts.has(packet.dport));
    const looksLikeSip = isTransport && sipMethodOf(packet.payload) !== null;
    // A UDP datagram is a whole message: on a SIP port it is SIP by its content (or a CRLF keepalive); a TCP segment may continue one.
    const sipByPort = onSipPort && (packet.protocol === 6 || isKeepalive(packet.payload) || packet.fragment !== null);
    if (!looksLikeSip && !sipByPort) {
      skip(notSipReason(packet));
      continue;
    }
    if (packet.fragment) fragmentKeys.add(key);
    candidates.push(candidate);
  }
  for (const fragment of fragmentsWaiting) {
    const key = `${fragment.packet.src}>${fragment.packet.dst}#${fragment.packet.fragment?.id}`;
    if (fragmentKeys.has(key)) candidates.push(fragment);
    else skip("fragment of a packet that is not SIP");
  }
  candidates.sort((a, b) => (a.timestampNs < b.timestampNs ? -1 : a.timestampNs > b.timestampNs ? 1 : 0));

  const pbxAddresses = new Set(spec.pbxAddress === undefined ? inferPbx(requestsSeen, spec.file, skipped) : [spec.pbxAddress].flat());
  const startNs = (firstNs ?? 0n) + BigInt(Math.round(spec.fromSeconds * 1e9));
  const endNs = spec.toSeconds === undefined ? null : (firstNs ?? 0n) + BigInt(Math.round(spec.toSeconds * 1e9));
  const clients: string[] = [];
  const clientSet = new Set<string>();
  const packets: ReplayPacket[] = [];
  for (const { packet, timestampNs, ip } of candidates) {
    if (timestampNs < startNs || (endNs !== null && timestampNs > endNs)) {
      skip("outside fromSeconds..toSeconds");
      continue;
    }
    const toPbx = pbxAddresses.has(packet.dst);
    const fromPbx = pbxAddresses.has(packet.src);
    if (!toPbx && !(fromPbx && spec.direction === "both")) {
      skip(fromPbx ? "sent by the capture's PBX (direction: to-pbx)" : "between two hosts that are not the PBX");
      continue;
    }
    const client = toPbx ? packet.src : packet.dst;
    if (!clientSet.has(client)) {
      clientSet.add(client);
      clients.push(client);
    }
    packets.push({
      offsetUs: Number(timestampNs - startNs) / 1000 / spec.speed,
      captureSrc: packet.src,
      captureDst: packet.dst,
      sport: packet.sport,
      dport: packet.dport,
      toPbx,
      ip,
      payload: ip.subarray(ip.length - packet.payload.length),
      protocol: packet.protocol,
    });
  }
  if (packets.length === 0) {
    throw new ScenarioError(
      "REPLAY_EMPTY",
      `${spec.file}: no SIP or IAX2 packets to or from ${[...pbxAddresses].join(", ")} in the chosen window (skipped: ${describeSkipped(skipped)}); check sipPorts, pbxAddress, fromSeconds/toSeconds`,
    );
  }
  // Each family's clients take the host's addresses of that family.
  for (const ipv6 of [false, true]) {
    const needed = clients.filter((client) => client.includes(":") === ipv6).length;
    const available = hostAddresses.filter((address) => address.includes(":") === ipv6).length;
    if (needed > available) {
      const family = ipv6 ? "IPv6" : "IPv4";
      throw new ScenarioError(
        "REPLAY_ADDRESSES",
        `traffic ${spec.name}: ${spec.file} has ${needed} ${family} client address${needed === 1 ? "" : "es"} but host ${spec.host} has ${available}; give the host a range with at least ${needed} ${family} addresses`,
      );
    }
  }
  return { file: spec.file, packets, clients, capturePbx: [...pbxAddresses], skipped, warnings: describeWarnings(capture.warnings) };
}

export function describeSkipped(skipped: Readonly<Record<string, number>>): string {
  const parts = Object.entries(skipped).map(([reason, count]) => `${count} ${reason}`);
  return parts.length ? parts.join(", ") : "none";
}

/** Addresses that received more SIP requests than they sent: the capture's registrars. */
function inferPbx(requests: ReadonlyArray<{ src: string; dst: string }>, file: string, skipped: Readonly<Record<string, number>>): string[] {
  // Nothing to infer from: say what the capture holds instead, by kind.
  if (requests.length === 0)
    throw new ScenarioError(
      "REPLAY_NO_SIP",
      `${file}: holds no SIP request or IAX2 call to replay (skipped: ${describeSkipped(skipped)})${skipped[IAX2] ? `; its IAX2 runs on a port iax2Ports does not list: add that port to the replay's iax2Ports` : ""}`,
    );
  const received = new Map<string, number>();
  const sent = new Map<string, number>();
  for (const { src, dst } of requests) {
    received.set(dst, (received.get(dst) ?? 0) + 1);
    sent.set(src, (sent.get(src) ?? 0) + 1);
  }
  const servers = [...received].filter(([address, count]) => count > (sent.get(address) ?? 0)).map(([address]) => address);
  if (servers.length === 0) throw new ScenarioError("REPLAY_NO_PBX", `${file}: no address receives more SIP requests than it sends, so the PBX cannot be inferred; give pbxAddress`);
  return servers.sort();
}

const IAX2 = "IAX2 on a port not in iax2Ports";

/** What opens an IAX2 call from the client's side: the frames that tell a registrar from its clients. */
const IAX2_OPENERS: ReadonlySet<number> = new Set([IaxCommand.NEW, IaxCommand.REGREQ, IaxCommand.REGREL, IaxCommand.POKE]);

/** An IAX2 full frame with well-formed elements, or a mini frame (a call's media: F bit clear, 4 bytes of header at least). */
function isIax2Frame(payload: Uint8Array): boolean {
  return decodeFullFrame(payload) !== null || (payload.length >= 4 && (payload[0]! & 0x80) === 0);
}

/** What a packet that is not SIP is, as far as a replay's message can say: IAX2 elsewhere, HTTP, or just not SIP. */
function notSipReason(packet: DecodedPacket): string {
  const payload = packet.payload;
  // An IAX2 control frame on another port (RFC 5456's is 4569, which iax2Ports lists by default).
  if (packet.protocol === 17 && decodeFullFrame(payload)?.frameType === FRAME_TYPE_IAX) return IAX2;
  if (packet.protocol === 6 || packet.protocol === 17) {
    const line = new TextDecoder().decode(payload.subarray(0, 16));
    if (/^(GET|POST|HEAD|PUT|OPTIONS|CONNECT|DELETE) \S+ HTTP\/1\.[01]|^HTTP\/1\.[01] \d{3}/.test(line) || /^(GET|POST|HEAD|PUT) \//.test(line)) return "HTTP, not SIP";
  }
  return "not SIP";
}

/** A CRLF keepalive (RFC 5626): two or four bytes of line ends. */
function isKeepalive(payload: Uint8Array): boolean {
  if (payload.length !== 2 && payload.length !== 4) return false;
  for (const byte of payload) if (byte !== 0x0d && byte !== 0x0a) return false;
  return true;
}
