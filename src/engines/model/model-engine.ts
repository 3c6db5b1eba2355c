import { parseIpv4 } from "../../net/address.js";
import { formatAddress, isIpv6Number, parseAddress } from "../../net/address-number.js";
import { decodeIpv6, encodeIpv6Udp, rewriteIpv6 } from "../../net/ipv6.js";
import { scenarioSendsIpv6 } from "../../scenario/check-scenario.js";
import { dualStackFirewall } from "./netfilter/dual-stack.js";
import { ipv6RulesOf, policyTarget } from "../ipv6-rules.js";
import { looksLikeNft } from "../../firewall/nft/parse-nft.js";
import { NOTHING_LOADED } from "../../firewall/ruleset.js";
import { decodeIpv4, encodeIpv4Udp, IPPROTO_TCP, IPPROTO_UDP, rewriteIpv4 } from "../../net/ipv4.js";
import type { Packet } from "../../net/packet.js";
import { policyRulesetText } from "../../firewall/policy-ruleset.js";
import { compileRulesetText } from "./compile-ruleset.js";
import type { Scenario } from "../../scenario/scenario.js";
import { sipMethodOf } from "../../sip/sip-method-of.js";
import type { AgentContext, Datagram, TrafficSource } from "../../traffic/agent.js";
import { createTrafficSources } from "../../traffic/create-traffic-sources.js";
import { Ipv4Reassembler } from "../../capture/ipv4-reassembly.js";
import { loadReplays } from "../../traffic/replay/load-replays.js";
import type { ReplayPlan } from "../../traffic/replay/replay-plan.js";
import { forkRandom } from "../../traffic/random.js";
import type { AgentEvent, Direction, Verdict } from "../../verdict/verdict.js";
import { OutcomeTally } from "../../verdict/outcomes.js";
import { countSecurityEvent } from "../../verdict/run-result.js";
import type { Engine, RunOptions, RunResult } from "../engine.js";
import { createAsteriskPbx, type SecurityLogLine } from "./asterisk-pbx.js";
import { createIax2Pbx } from "./iax2-pbx.js";
import { Fail2banJail } from "./fail2ban-jail.js";
import { fail2banFirewall, jailSets } from "../../scenario/with-fail2ban.js";
import { banInSet } from "./netfilter/matches/set.js";
import { ConntrackTable } from "./conntrack.js";
import type { FilterTrace } from "./filter-trace.js";
import { TlsSessions } from "./tls-sessions.js";
import { requestsInWrite } from "../../sip/sip-stream.js";
import { TcpStacks, type StreamReader, type TcpConnection, type TcpSegment } from "./tcp-stacks.js";
import { encodeIpv4Tcp } from "../../net/tcp-segment.js";
import { EventQueue } from "./event-queue.js";
import { defaultKernelSettings, type KernelSettings } from "./kernel-settings.js";
import { NatRouter } from "./nat-router.js";
import { BEFORE_CONNTRACK, type CompiledFirewall, type RouteJudgement, type RouteStart } from "./netfilter/interpreter.js";
import { firewallState } from "./netfilter/firewall-state.js";

/** A router in front of the office decrements TTL once (phones send 64). */
const SENDER_TTL = 64;

/**
 * Endpoints ("address", port) -> what is known of them. Keyed by the address
 * string the agents hold (its hash is kept in the string) and then the port:
 * an "address:port" key made per packet was made, and hashed, afresh each time.
 */
class EndpointMap<T> {
  private readonly byAddress = new Map<string, Map<number, T>>();

  get(address: string, port: number): T | undefined {
    return this.byAddress.get(address)?.get(port);
  }

  set(address: string, port: number, value: T): void {
    let byPort = this.byAddress.get(address);
    if (!byPort) {
      byPort = new Map();
      this.byAddress.set(address, byPort);
    }
    byPort.set(port, value);
  }
}

interface Sender {
  readonly source: TrafficSource;
  readonly agent: string;
  /** Where replies to the public endpoint go back to (the LAN endpoint behind a NAT). */
  readonly lanAddress: string;
  readonly lanPort: number;
  readonly nat: NatRouter | undefined;
  /** Its public address, and as text as the PBX is told it (formatted from the number): made once, not per packet. */
  readonly publicNumber: number;
  readonly publicText: string;
}

function senderFrom(source: TrafficSource, agent: string, lanAddress: string, lanPort: number, nat: NatRouter | undefined, publicNumber: number): Sender {
  return { source, agent, lanAddress, lanPort, nat, publicNumber, publicText: formatAddress(publicNumber) };
}

/**
 * One public endpoint and who sends from it now. The record stays in the
 * map for good and only its sender changes, so a request's reply reads the
 * endpoint's sender from the record the request found, as a lookup at
 * reply time would, without the lookup (two Maps of 65,536 addresses: a
 * chain of cache misses per packet).
 */
interface Endpoint {
  sender: Sender;
}

/**
 * The model engine: a discrete-event simulation in virtual time. Every packet
 * passes conntrack and the interpreted filter table as the kernel would run
 * them, accepted requests reach the PBX model, and its replies go back through
 * the firewall to the user agents, which react.
 */
export class ModelEngine implements Engine {
  readonly name = "model" as const;

  async run(scenario: Scenario, options: RunOptions = {}): Promise<RunResult> {
    return runModel(scenario, options, await loadReplays(scenario));
  }
}

/**
 * The simulation itself; `replays` holds the captures of replay sources, read
 * beforehand (see loadReplays). `trace` collects what the filter judged.
 */
export function runModel(scenario: Scenario, options: RunOptions = {}, replays: ReadonlyMap<string, ReplayPlan> = new Map(), trace?: FilterTrace): RunResult {
  const wallStart = performance.now();
  const settings: KernelSettings = { ...defaultKernelSettings, ...options.kernel };
  const seed = options.seed ?? scenario.seed;
  // fail2ban beside the firewall: its set and REJECT rule join the rules, and its jail reads the PBX's log.
  const withJail = scenario.fail2ban ? fail2banFirewall(scenario, scenario.fail2ban) : null;
  const firewallSpec = withJail ? withJail.firewall : scenario.firewall;
  const rulesetText =
    firewallSpec.kind === "policy"
      ? policyRulesetText(firewallSpec.policy, firewallSpec.format, policyTarget(scenario))
      : firewallSpec.text;
  const placement = firewallSpec.kind === "policy" ? firewallSpec.policy.placement : "host";
  const localAddresses = placement === "host" ? [scenario.pbx.address, ...(scenario.pbx.address6 === undefined ? [] : [scenario.pbx.address6])] : [];
  const ipsetText = firewallSpec.kind === "ruleset" ? firewallSpec.ipset?.text : undefined;
  // -m time judges by the wall clock: the scenario's, or the real one when the run starts, as the kernel's would.
  const wallClockStartMs = scenario.startsAt !== undefined ? Date.parse(scenario.startsAt) : (options.wallClockStartMs ?? Date.now());
  const matchState = firewallState(settings, localAddresses, firewallSpec.kind === "ruleset" ? firewallSpec.ipset : undefined, wallClockStartMs);
  const rulesetPath = firewallSpec.kind === "ruleset" ? firewallSpec.path : undefined;
  const ipv6Rules = ipv6RulesOf(scenario, firewallSpec);
  const sendsIpv6 = scenarioSendsIpv6(scenario);
  const ipv4Firewall = compileRulesetText(rulesetText, rulesetPath, matchState);
  // IPv6 packets meet the host's ip6tables rules (none loaded: ACCEPT) beside the IPv4 ones.
  // An nftables ruleset's inet and ip6 tables judge IPv6 themselves.
  const firewall: CompiledFirewall = !looksLikeNft(rulesetText) && (ipv6Rules || sendsIpv6) ? dualStackFirewall(ipv4Firewall, ipv6Rules?.text, ipv6Rules?.path, matchState) : ipv4Firewall;
  const inboundHook = placement === "host" ? "INPUT" : "FORWARD";
  const outboundHook = placement === "host" ? "OUTPUT" : "FORWARD";
  const conntrack = new ConntrackTable(settings);
  // Asterisk's log of failed requests, and fail2ban reading it when the scenario has it.
  let logLines = 0;
  const fail2ban = withJail?.jail;
  const jail = fail2ban
    ? new Fail2banJail(fail2ban, (address, atUs) =>
        // Each of the jail's actions adds the address to its own set.
        queue.push(atUs, () => {
          for (const { set } of jailSets(fail2ban)) banInSet(firewall, matchState, set, parseIpv4(address), fail2ban.bantimeSeconds, jiffiesAt(atUs));
        }),
      )
    : null;
  const logFailure = (line: SecurityLogLine) => {
    logLines++;
    jail?.failure(line.address, line.atUs);
  };
  const securityEvents: Record<string, Record<string, number>> = {};
  const requestsWritten: Record<string, number> = {};
  /** The request the PBX is reading, and the endpoint it came from: its security events name that endpoint. */
  const reading = { address: "", port: 0, endpoint: undefined as Endpoint | undefined };
  const senderAt = (address: string, port: number): Sender | undefined =>
    (reading.endpoint !== undefined && address === reading.address && port === reading.port ? reading.endpoint : senders.get(address, port))?.sender;
  const pbx = createAsteriskPbx(scenario.pbx, logFailure, (event) => countSecurityEvent(securityEvents, senderAt(event.address, event.port)?.source.name ?? "unattributed", event.name));
  const iax2Pbx = createIax2Pbx(scenario.pbx, scenario.pbx.iax2Port, logFailure, `${scenario.name}:${scenario.variant ?? ""}:${seed}`);
  const LAB_INTERFACE = scenario.pbx.interface;
  const pbxAddress = parseIpv4(scenario.pbx.address);
  const pbxAddress6 = scenario.pbx.address6 === undefined ? undefined : parseAddress(scenario.pbx.address6);
  /** The PBX's address in a packet's family, as a number and as text. */
  const pbxFor = (address: number): number => (isIpv6Number(address) ? (pbxAddress6 ?? pbxAddress) : pbxAddress);
  const pbxTextFor = (address: number): string => (isIpv6Number(address) ? (scenario.pbx.address6 ?? scenario.pbx.address) : scenario.pbx.address);
  const sources = createTrafficSources(scenario, replays);
  // nf_defrag_ipv4 in front of the filter, and the PBX's own IP stack behind it.
  const defragmenter = new Ipv4Reassembler();
  const pbxStack = new Ipv4Reassembler();
  const endUs = scenario.durationSeconds * 1_000_000;

  const nats = new Map<string, NatRouter>();
  for (const [hostName, host] of Object.entries(scenario.hosts)) {
    if (host.kind === "nat") nats.set(hostName, new NatRouter(host, forkRandom(seed, `nat:${hostName}`)));
  }
  const natByPublic = new Map<number, NatRouter>();
  for (const nat of nats.values()) natByPublic.set(nat.publicAddressNumber, nat);

  const queue = new EventQueue();
  const verdicts: Verdict[] = [];
  const keepVerdicts = options.keepVerdicts !== false || options.keepPackets === true || trace !== undefined;
  let tally: OutcomeTally | null = null;
  let judged = 0;
  const packets: Uint8Array[] | undefined = options.keepPackets ? [] : undefined;
  const events: AgentEvent[] = [];
  const agentsBySource: Record<string, string[]> = {};
  /** Public endpoint "address:port" -> who sent from it, so replies find their user agent. */
  const senders = new EndpointMap<Endpoint>();
  /** The endpoint's record, now sent from by `sender`. */
  const claim = (address: string, port: number, sender: Sender): Endpoint => {
    const endpoint = senders.get(address, port);
    if (!endpoint) {
      const made = { sender };
      senders.set(address, port, made);
      return made;
    }
    endpoint.sender = sender;
    return endpoint;
  };
  const identification = new Map<number, number>();
  let nowUs = 0;

  const jiffiesAt = (atUs: number): number => settings.startJiffies + Math.floor((atUs * settings.hz) / 1_000_000);

  const nextIdentification = (src: number): number => {
    // An IPv4 address as a signed 32-bit key: a small integer to V8, where one above 2^31 is a heap number hashed as a double.
    const key = isIpv6Number(src) ? src : src | 0;
    const id = ((identification.get(key) ?? 0) + 1) & 0xffff;
    identification.set(key, id);
    return id;
  };

  const toPacket = (datagram: Datagram, src: number, sport: number, dst: number, dport: number, ttl: number): Packet => {
    if (isIpv6Number(src)) {
      const bytes = datagram.ipDatagram ? rewriteIpv6(datagram.ipDatagram, { src, dst, sport, dport }) : encodeIpv6Udp({ src, dst, sport, dport, payload: datagram.payload, hopLimit: ttl });
      return decodeIpv6(bytes, LAB_INTERFACE);
    }
    const bytes = datagram.ipDatagram
      ? rewriteIpv4(datagram.ipDatagram, { src, dst, sport, dport })
      : encodeIpv4Udp({ src, dst, sport, dport, payload: datagram.payload, ttl, identification: nextIdentification(src) });
    return decodeIpv4(bytes, LAB_INTERFACE);
  };

  /** Conntrack's step in the firewall's route: it runs after the raw table. */
  const tracker = conntrack.tracker();

  /** The packet's route through the tables and conntrack; conntrack only confirms what they all accepted (__nf_conntrack_confirm). */
  // Where each route starts, refilled per packet: the route reads it only while it judges.
  const start: { -readonly [K in keyof RouteStart]-?: RouteStart[K] } = { jiffies: 0, clockNs: 0, outInterface: LAB_INTERFACE, ingressJudged: false };
  const judge = (packet: Packet, hook: "INPUT" | "FORWARD" | "OUTPUT", direction: Direction, sender: Sender, atUs: number, ingressJudged = false): RouteJudgement | null => {
    const jiffies = jiffiesAt(atUs);
    tracker.at(jiffies);
    start.jiffies = jiffies;
    start.clockNs = atUs * 1000;
    start.ingressJudged = ingressJudged;
    const judgement = firewall.judgeRoute(hook, packet, start, tracker);
    const classification = tracker.last();
    if (judgement.accepted) conntrack.commit(classification);
    trace?.push(hook, packet, classification, jiffies, LAB_INTERFACE, atUs * 1000, judgement.accepted);
    return record(packet, direction, sender, atUs, judgement);
  };

  /**
   * A fragment as nftables' ingress chains see it, before reassembly: true
   * when it goes on to be reassembled; a drop is the fragment's verdict.
   */
  const passesIngress = (packet: Packet, hook: "INPUT" | "FORWARD", sender: Sender, atUs: number): boolean => {
    if (!firewall.judgeIngress) return true;
    // The trace keeps what the route judged, the reassembled datagram: it cannot replay this.
    trace?.fragmentsJudgedAtIngress();
    const jiffies = jiffiesAt(atUs);
    const judgement = firewall.judgeIngress(packet, { jiffies, clockNs: atUs * 1000, outInterface: LAB_INTERFACE });
    if (!judgement || judgement.accepted) return true;
    record(packet, "to-pbx", sender, atUs, { ...judgement, packet, tracked: BEFORE_CONNTRACK, route: hook });
    return false;
  };

  /** A judged packet counted or recorded; the judgement when it passed. */
  const record = (packet: Packet, direction: Direction, sender: Sender, atUs: number, judgement: RouteJudgement): RouteJudgement | null => {
    packets?.push(packet.bytes);
    if (!keepVerdicts) {
      // Counted as it goes, no record made: the tally reads the source, the address and the verdict.
      judged++;
      // The tally reads the address of what is sent to the PBX only; the sender's own is formatted once.
      const srcAddr = direction === "from-pbx" ? "" : packet.src === sender.publicNumber ? sender.publicText : formatAddress(packet.src);
      tally!.addPacket(sender.source.name, direction, srcAddr, atUs, !judgement.accepted, judgement.rule);
      return judgement.accepted ? judgement : null;
    }
    const verdict: Verdict = {
      packetId: judged++,
      atUs,
      source: sender.source.name,
      agent: sender.agent,
      direction,
      srcAddr: formatAddress(packet.src),
      srcPort: packet.sport,
      dstAddr: formatAddress(packet.dst),
      dstPort: packet.dport,
      protocol: packet.protocol === IPPROTO_UDP ? "udp" : packet.protocol === IPPROTO_TCP ? "tcp" : "other",
      sipMethod: sipMethodOf(packet.bytes.subarray(packet.payloadOffset)),
      verdict: judgement.accepted ? "delivered" : "dropped",
      rule: judgement.rule,
      ctState: judgement.tracked.state,
    };
    verdicts.push(verdict);
    return judgement.accepted ? judgement : null;
  };

  /** `from` is the record of the endpoint the datagram came from, when the caller holds it. */
  const deliverToPbx = (datagram: Datagram, sender: Sender, atUs: number, from?: Endpoint) => {
    const listener = datagram.dport === scenario.pbx.iax2Port ? iax2Pbx : pbx;
    reading.address = datagram.src;
    reading.port = datagram.sport;
    reading.endpoint = from;
    const replies = listener.receive(datagram, atUs);
    reading.endpoint = undefined;
    for (const reply of replies) {
      queue.push(atUs + reply.delayUs, () => {
        if (!reply.unlessAcknowledged?.()) sendFromPbx(reply.datagram, from !== undefined && reply.datagram.dst === datagram.src && reply.datagram.dport === datagram.sport ? from : undefined);
      });
    }
  };

  /** `to` is the record of the endpoint the datagram goes to, when the caller holds it. */
  const sendFromPbx = (datagram: Datagram, to?: Endpoint) => {
    if (datagram.transport) {
      const lan = tcpClients.get(`${datagram.dst}:${datagram.dport}`);
      if (lan) (datagram.transport === "tls" ? tls : tcp).reply(lan.address, lan.port, datagram.sport, datagram.payload);
      return;
    }
    const sender = (to ?? senders.get(datagram.dst, datagram.dport))?.sender;
    // The PBX only ever answers endpoints that reached it; anything else has no route in the lab.
    if (!sender) return;
    const dst = parseAddress(datagram.dst);
    const packet = toPacket(datagram, pbxFor(dst), datagram.sport, dst, datagram.dport, SENDER_TTL);
    if (!judge(packet, outboundHook, "from-pbx", sender, nowUs)) return;
    const delivered: Datagram = sender.nat
      ? { ...datagram, dst: sender.lanAddress, dport: sender.lanPort }
      : datagram;
    sender.source.receive(delivered, contexts.get(sender.source)!);
  };

  const sendFromAgent = (source: TrafficSource, agent: string, datagram: Datagram) => {
    if (nowUs > endUs) return;
    const endpoint = sourcesBehindNat.has(source) ? endpointOf(source, agent) : undefined;
    const nat = endpoint?.behindNat ? nats.get(endpoint.behindNat) : undefined;
    const publicAddress = nat ? nat.publicAddress : datagram.src;
    const publicPort = nat ? nat.translateOutbound(datagram.src, datagram.sport) : datagram.sport;
    // The endpoint's sender as it was last time, when nothing about it changed: a flood sends from one endpoint thousands of times.
    let publicEndpoint = senders.get(publicAddress, publicPort);
    const known = publicEndpoint?.sender;
    const sender: Sender =
      known !== undefined && known.source === source && known.agent === agent && known.lanAddress === datagram.src && known.lanPort === datagram.sport && known.nat === nat
        ? known
        : senderFrom(source, agent, datagram.src, datagram.sport, nat, parseAddress(publicAddress));
    if (datagram.transport) {
      requestsWritten[source.name] = (requestsWritten[source.name] ?? 0) + requestsInWrite(datagram.payload);
      tcpSenders.set(`${datagram.src}:${datagram.sport}:${datagram.dport}`, { sender, publicAddress, publicPort });
      tcpClients.set(`${publicAddress}:${publicPort}`, { address: datagram.src, port: datagram.sport });
      claim(publicAddress, publicPort, sender);
      if (datagram.transport === "tls") tls.write(datagram.src, datagram.sport, datagram.dport, datagram.payload);
      else tcp.write(datagram.src, datagram.sport, datagram.dport, datagram.payload, datagram.segments);
      return;
    }
    // The sender was found or made for this public address: its number is parsed once, not per packet.
    const src = sender.publicNumber;
    const pbxTo = pbxFor(src);
    let packet = toPacket(datagram, src, publicPort, pbxTo, datagram.dport, nat ? SENDER_TTL - 1 : SENDER_TTL);
    const isFragment = packet.moreFragments || packet.fragmentOffset !== 0;
    if (isFragment && settings.defragment) {
      // nftables' ingress sees each fragment as it arrives; conntrack's defragmentation then runs before the
      // filter, which sees the whole datagram once.
      if (!passesIngress(packet, inboundHook, sender, nowUs)) return;
      const whole = defragmenter.add({ ip: packet.bytes, atUs: nowUs });
      if (!whole) return;
      packet = decodeIpv4(whole, LAB_INTERFACE);
    }
    if (packet.fragmentOffset === 0 && (sender !== known || packet.sport !== publicPort)) {
      const claimed = claim(publicAddress, packet.sport, sender);
      if (packet.sport === publicPort) publicEndpoint = claimed;
    }
    const passed = judge(packet, inboundHook, "to-pbx", sender, nowUs, isFragment && settings.defragment);
    // A DNAT elsewhere forwards the packet out of the lab; one to a port the PBX does not listen on reaches no socket.
    if (!passed || passed.route !== inboundHook) return;
    packet = passed.packet;
    if (packet.dst !== pbxTo) return;
    // Rewritten on its way (SNAT), the packet comes from another endpoint, which replies then go to.
    const rewritten = packet.src !== src || packet.sport !== publicPort;
    if (rewritten) claim(formatAddress(packet.src), packet.sport, sender);
    if (isFragment && !settings.defragment) {
      // Without defragmentation the PBX's stack reassembles what the filter let through.
      const whole = pbxStack.add({ ip: packet.bytes, atUs: nowUs });
      if (!whole) return;
      packet = decodeIpv4(whole, LAB_INTERFACE);
    }
    // The PBX model speaks SIP and IAX2 over UDP; TCP segments are judged but not answered.
    if (packet.protocol !== IPPROTO_UDP || (packet.dport !== scenario.pbx.port && packet.dport !== scenario.pbx.iax2Port)) return;
    const payload = packet.bytes.subarray(packet.payloadOffset);
    const srcText = packet.src === sender.publicNumber ? sender.publicText : formatAddress(packet.src);
    deliverToPbx({ src: srcText, sport: packet.sport, dst: pbxTextFor(packet.src), dport: packet.dport, payload }, sender, nowUs, rewritten ? undefined : publicEndpoint);
  };

  /** A replayed capture's own PBX packets: they leave through the outbound hook like the lab PBX's replies. */
  const sendAsPbx = (source: TrafficSource, agent: string, datagram: Datagram) => {
    if (nowUs > endUs) return;
    const dst = parseAddress(datagram.dst);
    const sender = senderFrom(source, agent, datagram.dst, datagram.dport, undefined, dst);
    const packet = toPacket(datagram, pbxFor(dst), datagram.sport, dst, datagram.dport, SENDER_TTL);
    if (judge(packet, outboundHook, "from-pbx", sender, nowUs)) source.receive(datagram, contexts.get(source)!);
  };

  /** SIP over TCP: each connection's user agent and public end, and public ends back to the agent's socket. */
  const tlsPort = scenario.pbx.tlsPort;
  const tcpSenders = new Map<string, { sender: Sender; publicAddress: string; publicPort: number }>();
  const tcpClients = new Map<string, { address: string; port: number }>();
  const tcpEndOf = (connection: TcpConnection) => tcpSenders.get(`${connection.clientAddress}:${connection.clientPort}:${connection.serverPort}`)!;
  const tcpPacket = (segment: TcpSegment, src: number, sport: number, dst: number, dport: number, ttl: number): Packet =>
    decodeIpv4(encodeIpv4Tcp({ src, dst, sport, dport, ...segment, ttl, identification: nextIdentification(src) }), LAB_INTERFACE);
  const tcp: TcpStacks = new TcpStacks(
    {
      now: () => nowUs,
      at: (atUs, action) => {
        if (atUs <= endUs) queue.push(Math.max(atUs, nowUs), action);
      },
      carry: (connection, fromClient, segment) => {
        if (nowUs > endUs) return false;
        const { sender, publicAddress, publicPort } = tcpEndOf(connection);
        const client = parseIpv4(publicAddress);
        if (!fromClient) return judge(tcpPacket(segment, pbxAddress, connection.serverPort, client, publicPort, SENDER_TTL), outboundHook, "from-pbx", sender, nowUs) !== null;
        const passed = judge(tcpPacket(segment, client, publicPort, pbxAddress, connection.serverPort, sender.nat ? SENDER_TTL - 1 : SENDER_TTL), inboundHook, "to-pbx", sender, nowUs);
        return passed !== null && passed.route === inboundHook && passed.packet.dst === pbxAddress;
      },
      deliver: (connection, toClient, message) => {
        const { sender, publicAddress, publicPort } = tcpEndOf(connection);
        const transport = connection.serverPort === tlsPort ? "tls" : "tcp";
        if (toClient) {
          const datagram: Datagram = { src: scenario.pbx.address, sport: connection.serverPort, dst: connection.clientAddress, dport: connection.clientPort, payload: message, transport };
          sender.source.receive(datagram, contexts.get(sender.source)!);
        } else {
          deliverToPbx({ src: publicAddress, sport: publicPort, dst: scenario.pbx.address, dport: connection.serverPort, payload: message, transport }, sender, nowUs);
        }
      },
    },
    // Asterisk's PJSIP listens on TCP at the SIP port too and on TLS at its own (transport-tcp and transport-tls, as the lab configures them).
    (port) => port === scenario.pbx.port || port === tlsPort,
    forkRandom(seed, "tcp"),
    (connection): { client: StreamReader; server: StreamReader } | undefined => {
      if (connection.serverPort !== tlsPort) return undefined;
      const { clientAddress, clientPort, serverPort } = connection;
      return { client: tls.receiverFor(clientAddress, clientPort, serverPort, true), server: tls.receiverFor(clientAddress, clientPort, serverPort, false) };
    },
  );
  const tls: TlsSessions = new TlsSessions(
    {
      now: () => nowUs,
      at: (atUs, action) => {
        if (atUs <= endUs) queue.push(Math.max(atUs, nowUs), action);
      },
      write: (address, port, serverPort, bytes, afterConnectUs) => tcp.write(address, port, serverPort, bytes, undefined, afterConnectUs),
      reply: (address, port, serverPort, bytes) => tcp.reply(address, port, serverPort, bytes),
      isOpen: (address, port, serverPort) => tcp.isOpen(address, port, serverPort),
    },
    forkRandom(seed, "tls"),
  );

  const endpointIndex = new Map<TrafficSource, Map<string, TrafficSource["agents"][number]>>();
  const endpointOf = (source: TrafficSource, agent: string) => endpointIndex.get(source)?.get(agent);

  /** Sources with an endpoint behind a NAT router: only theirs are looked up per send. */
  const sourcesBehindNat = new Set<TrafficSource>();
  const contexts = new Map<TrafficSource, AgentContext>();
  for (const source of sources) {
    endpointIndex.set(source, new Map(source.agents.map((endpoint) => [endpoint.agent, endpoint])));
    if (source.agents.some((endpoint) => endpoint.behindNat)) sourcesBehindNat.add(source);
    agentsBySource[source.name] = [...new Set(source.agents.map((endpoint) => endpoint.agent))];
    const random = forkRandom(seed, `source:${source.name}`);
    contexts.set(source, {
      now: () => nowUs,
      send: (agent, datagram) => sendFromAgent(source, agent, datagram),
      sendFromPbx: (agent, datagram) => sendAsPbx(source, agent, datagram),
      at: (atUs, action) => {
        if (atUs <= endUs) queue.push(Math.max(atUs, nowUs), action);
      },
      random,
      record: (event) => events.push({ ...event, source: source.name }),
    });
  }
  if (!keepVerdicts) tally = new OutcomeTally(Object.keys(agentsBySource));
  for (const source of sources) source.start(contexts.get(source)!);

  let eventsRun = 0;
  while (queue.size > 0 && queue.peekTime() <= endUs) {
    nowUs = queue.peekTime();
    queue.take()();
    if (options.onProgress && ++eventsRun % 8192 === 0) options.onProgress({ virtualUs: nowUs, durationUs: endUs, packets: judged });
  }

  return {
    engine: "model",
    scenario: scenario.name,
    variant: scenario.variant,
    seed,
    rulesetText,
    ...(firewall !== ipv4Firewall ? { ipv6RulesetText: ipv6Rules?.text ?? NOTHING_LOADED } : {}),
    ...(ipsetText !== undefined ? { ipsetText } : {}),
    localAddresses,
    verdicts,
    packetsJudged: judged,
    ...(tally ? { outcomes: tally.outcomes(agentsBySource, events) } : {}),
    events,
    agentsBySource,
    asteriskLogLines: logLines,
    securityEvents,
    ...(Object.keys(requestsWritten).length ? { requestsWritten } : {}),
    ...(jail && fail2ban ? { fail2ban: { sets: jailSets(fail2ban).map(({ set }) => set), bantimeSeconds: fail2ban.bantimeSeconds, bans: jail.bans.filter((ban) => ban.atUs <= endUs) } } : {}),
    durationUs: endUs,
    wallMs: performance.now() - wallStart,
    wallClockStartMs,
    environment: {
      engine: "model",
      hz: String(settings.hz),
      "xt_recent.ip_list_tot": String(settings.recentIpListTot),
      "xt_recent.ip_pkt_list_tot": String(settings.recentIpPktListTot),
      nf_conntrack_udp_timeout: String(settings.conntrackUdpTimeoutSeconds),
      nf_conntrack_udp_timeout_stream: String(settings.conntrackUdpTimeoutStreamSeconds),
      nf_defrag_ipv4: settings.defragment ? "loaded" : "not loaded",
      placement,
    },
    ...(packets ? { packets } : {}),
  };
}
