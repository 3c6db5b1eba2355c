import { createHash } from "node:crypto";
import { decodeFrame } from "../../capture/decode-frame.js";
import { nflogRecord } from "../../capture/nflog.js";
import { openCapture } from "../../capture/read-capture.js";
import { NO_BASE_CHAIN } from "../../firewall/nft/nft-ruleset.js";
import { splitQualifiedChain, type Ruleset, type RuleRef } from "../../firewall/ruleset.js";
import { decodeFullFrame } from "../../iax2/iax2-frame.js";
import { sipMethodOf } from "../../sip/sip-method-of.js";
import type { AgentEvent, Verdict } from "../../verdict/verdict.js";
import { natKey } from "./nat-connections.js";
import type { SendRecord } from "./runner-spec.js";

export interface JoinedVerdicts {
  readonly verdicts: Verdict[];
  readonly packets: Uint8Array[];
  /** Logged packets to or from the PBX that no traffic source sent (nor answered). */
  readonly unmatched: number;
  /** Registrations of real tools, read from the 200s the PBX sent them. */
  readonly toolEvents: AgentEvent[];
  /** Every record in the verdict log, lab traffic or not: iptables' counters must say the same. */
  readonly records: number;
}

function ruleRef(ruleset: Ruleset, chain: string, index: number): RuleRef {
  const where = splitQualifiedChain(chain);
  const chainSpec = ruleset.tables.get(where.table)?.chains.get(where.chain);
  if (index === 0) return { chain, index: 0, target: chainSpec?.policy ?? "ACCEPT" };
  const rule = chainSpec?.rules[index - 1];
  const target = rule?.target ? (rule.target.kind === "jump" || rule.target.kind === "goto" ? rule.target.chain! : rule.target.kind) : "";
  return { chain, index, target, ...(rule?.comment ? { comment: rule.comment } : {}) };
}

/**
 * Where on a packet's way a verdict record is logged, in the order a packet
 * meets them: the nft lab's first record for every packet, then base chains
 * (nft), or iptables' tables by hook priority (only DROP is logged outside
 * filter).
 */
function stageOf(chain: string): number {
  if (chain === NO_BASE_CHAIN) return 0;
  if (chain.includes(" ")) return 1;
  const [table, hook] = chain.includes(":") ? chain.split(":") : ["filter", chain];
  if (table === "raw") return 1;
  if (table === "mangle") return hook === "PREROUTING" ? 2 : hook === "POSTROUTING" ? 6 : 3;
  if (table === "filter") return 4;
  if (table === "security") return 5;
  return 7;
}

/** A record comes after another of the same packet: a later stage, or the next nft base chain. */
function laterStage(stage: number, earlier: number, chain: string): boolean {
  return stage > earlier || (stage === 1 && earlier === 1 && chain.includes(" "));
}

/** How many records apart one packet's records can be (other packets' records, from other CPUs, come between). */
const RECORDS_OF_ONE_PACKET = 16;

/**
 * Per-packet verdicts from the firewall's NFLOG log, joined to what the
 * traffic containers sent: a request is matched to its send by payload (in
 * order, so retransmissions pair up), a PBX packet to a source by Call-ID.
 */
/** The agent name meaning "the account the message names" (a SIPp office's calls). */
export const ACCOUNT_AGENT = "*account*";

/** The user of a SIP message's From header. */
function sipFromUser(payload: Uint8Array): string | undefined {
  return /^(?:From|f)[ \t]*:[^\r\n]*?<?sips?:([^@;>\s]+)@/im.exec(Buffer.from(payload.subarray(0, 2048)).toString("latin1"))?.[1];
}

export async function joinVerdicts(options: {
  verdictLog: string;
  sends: readonly SendRecord[];
  /** The iptables ruleset, for each logged rule's target; null for nftables, whose records name their verdict. */
  ruleset: Ruleset | null;
  /** The ip6tables rules the lab loaded beside them, for IPv6 packets' records; null when it loaded none. */
  ruleset6?: Ruleset | null;
  pbxAddress: string;
  /** The PBX's IPv6 address as RFC 5952 prints it, when the run sends over IPv6. */
  pbxAddress6?: string;
  /** The run's start in ms since the epoch (fractional: it sits on a kernel tick). */
  t0EpochMs: number;
  keepPackets: boolean;
  /** Lab address:port of each real tool, which logs nothing: its packets are its own by the port it binds. */
  toolAgents: ReadonlyMap<string, { source: string; agent: string }>;
  /** The LAN address:port behind an office's NAT, by public end and PBX port (natKey), for the TCP connections through it. */
  natConnections?: ReadonlyMap<string, string>;
  /** The run's records are the log's first this many (what the kernel had logged when the run ended); the rest came after. */
  recordLimit?: number;
}): Promise<JoinedVerdicts> {
  const toolEvents: AgentEvent[] = [];
  const byHash = new Map<string, SendRecord[]>();
  const byCallId = new Map<string, SendRecord>();
  /** Each TCP (or TLS) connection's sender by its lab end (address:port): its segments carry no Call-ID of their own. */
  const byConnection = new Map<string, SendRecord>();
  for (const send of options.sends) {
    if (send.transport && !byConnection.has(`${send.src}:${send.sport}`)) byConnection.set(`${send.src}:${send.sport}`, send);
    const queue = byHash.get(send.hash);
    if (queue) queue.push(send);
    else byHash.set(send.hash, [send]);
    if (send.callId && !byCallId.has(send.callId)) byCallId.set(send.callId, send);
  }
  const t0Ns = BigInt(Math.round(options.t0EpochMs * 1000)) * 1000n;
  const verdicts: Verdict[] = [];
  const packets: Uint8Array[] = [];
  let unmatched = 0;
  let records = 0;
  let lastAtUs = 0;
  const recentPackets = new Map<string, { verdict: number; record: number; stage: number }>();
  /** Who last sent from each public address:port the kernel saw: the PBX's IAX2 frames, which carry no Call-ID, go back to it. */
  const lastSenderAt = new Map<string, SendRecord>();
  for await (const frame of await openCapture(options.verdictLog, { allowTruncated: true })) {
    if (options.recordLimit !== undefined && records >= options.recordLimit) break;
    records++;
    const record = nflogRecord(frame.data);
    const match = record ? /^v:(.+):(\d+)(?::(ACCEPT|DROP|REJECT))?$/.exec(record.prefix) : null;
    const packet = decodeFrame(frame);
    if (!match || typeof packet === "string") continue;
    const pbx = packet.ipVersion === 6 ? options.pbxAddress6 : options.pbxAddress;
    const toPbx = packet.dst === pbx;
    const fromPbx = packet.src === pbx;
    if (!toPbx && !fromPbx) continue;
    const hash = createHash("sha1").update(packet.payload).digest("hex").slice(0, 16);
    // The same packet logged again by a later stage of its way (another nft base chain, or a table
    // after filter that drops it): the later record is its verdict. Records of one packet come close
    // together; a retransmission (the same bytes, IP ID 0 from an unconnected socket) starts again at
    // the first stage, which is how it is told apart.
    const sameAs = `${(packet.ip[4]! << 8) | packet.ip[5]!}:${packet.protocol}:${hash}`;
    for (const [key, seen] of recentPackets) if (records - seen.record > RECORDS_OF_ONE_PACKET) recentPackets.delete(key);
    const rule: RuleRef =
      packet.ipVersion === 6 && options.ruleset6
        ? { ...ruleRef(options.ruleset6, match[1]!, Number(match[2])), family: 6 }
        : options.ruleset
          ? ruleRef(options.ruleset, match[1]!, Number(match[2]))
          : { chain: match[1]!, index: Number(match[2]), target: match[3] ?? "ACCEPT" };
    const accepted = rule.target === "ACCEPT";
    const stage = stageOf(rule.chain);
    const earlier = recentPackets.get(sameAs);
    if (earlier !== undefined && laterStage(stage, earlier.stage, rule.chain)) {
      verdicts[earlier.verdict] = { ...verdicts[earlier.verdict]!, rule, verdict: accepted ? "delivered" : "dropped" };
      earlier.record = records;
      earlier.stage = stage;
      continue;
    }
    let send: SendRecord | undefined;
    if (packet.protocol === 6) {
      // A connection's segments (handshake, ACKs, messages cut or joined as the stack sent them) are its sender's;
      // a replayed capture's segments are sent as they are, so they pair with their sends.
      const sent = toPbx ? byHash.get(hash)?.shift() : undefined;
      const [address, port, pbxPort] = toPbx ? [packet.src, packet.sport, packet.dport] : [packet.dst, packet.dport, packet.sport];
      // Behind an office's NAT the firewall sees the public end; its conntrack table names the LAN socket.
      send = byConnection.get(`${address}:${port}`) ?? byConnection.get(options.natConnections?.get(natKey(address, port, pbxPort)) ?? "") ?? sent;
    } else if (toPbx) {
      send = byHash.get(hash)?.shift();
      if (send) lastSenderAt.set(`${packet.src}:${packet.sport}`, send);
    } else {
      const callId = /^(?:Call-ID|i)[ \t]*:[ \t]*(\S+)/im.exec(Buffer.from(packet.payload.subarray(0, 2048)).toString("latin1"))?.[1];
      send = callId ? byCallId.get(callId) : packet.protocol === 17 && decodeFullFrame(packet.payload) ? lastSenderAt.get(`${packet.dst}:${packet.dport}`) : undefined;
    }
    const peer = toPbx ? packet.src : packet.dst;
    const found = send ? undefined : (options.toolAgents.get(`${peer}:${toPbx ? packet.sport : packet.dport}`) ?? options.toolAgents.get(`${peer}:*`));
    // A SIPp office's agents are its accounts: the user its message's From names (the PBX's answer copies it).
    const tool = found && found.agent === ACCOUNT_AGENT ? { ...found, agent: sipFromUser(packet.payload) ?? peer } : found;
    if (!send && !tool) {
      unmatched++;
      continue;
    }
    const owner = send ?? tool!;
    // tcpdump stamps NFLOG records when it reads them, late and in batches. A received packet
    // carries the kernel's own receive time; failing that, a request reached the kernel inside
    // its sender's send call. The PBX's own packets carry no time: they come between the
    // packets around them in the log, so they take the one before.
    const loggedUs = Number((frame.timestampNs - t0Ns) / 1000n);
    const receivedUs = record?.kernelTimeUs == null ? null : record.kernelTimeUs - options.t0EpochMs * 1000;
    const atUs = Math.max(lastAtUs, receivedUs ?? (toPbx ? (send ? (send.kernelUs ?? send.sentUs) : loggedUs) : lastAtUs));
    lastAtUs = atUs;
    recentPackets.set(sameAs, { verdict: verdicts.length, record: records, stage });
    verdicts.push({
      packetId: verdicts.length,
      atUs,
      source: owner.source,
      agent: owner.agent,
      direction: toPbx ? "to-pbx" : "from-pbx",
      srcAddr: packet.src,
      srcPort: packet.sport,
      dstAddr: packet.dst,
      dstPort: packet.dport,
      protocol: packet.protocol === 17 ? "udp" : packet.protocol === 6 ? "tcp" : "other",
      sipMethod: sipMethodOf(packet.payload),
      verdict: accepted ? "delivered" : "dropped",
      rule,
      ctState: "UNKNOWN",
    });
    if (options.keepPackets) packets.push(new Uint8Array(packet.ip));
    if (tool && fromPbx && accepted && /^SIP\/2\.0 200 [\s\S]*^CSeq:\s*\d+ REGISTER/im.test(Buffer.from(packet.payload.subarray(0, 2048)).toString("latin1"))) {
      toolEvents.push({ atUs: verdicts.at(-1)!.atUs, source: tool.source, agent: tool.agent, kind: "registered", ...(found?.agent === ACCOUNT_AGENT ? { account: tool.agent } : {}), detail: "200 OK to the tool's REGISTER" });
    }
  }
  return { verdicts, packets, unmatched, toolEvents, records };
}
