import { pcapFile } from "../../capture/pcap-writer.js";
import { LINKTYPE_RAW } from "../../capture/link-types.js";
import type { Scenario } from "../../scenario/scenario.js";
import { scenarioSchema } from "../../scenario/schema.js";
import { runModel } from "./model-engine.js";
import { checkPacketBudget } from "../../scenario/estimate-packets.js";
import type { SynthKind } from "./synth-kinds.js";


export interface SynthOptions {
  readonly seed: number;
  /** Requests per second per attacking address. */
  readonly ratePps?: number;
  readonly durationSeconds?: number;
  /** Attacking addresses (register-flood) or phones (nat-office). */
  readonly count?: number;
  /** The packet budget (estimate-packets.ts): a bigger capture is refused before it is made. */
  readonly maxPackets?: number;
}

/** The capture starts at this instant, so a synthesised file is the same bytes every time. */
const CAPTURE_EPOCH_NS = BigInt(Date.UTC(2026, 0, 1)) * 1_000_000n;
const ACCEPT_ALL = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n";

/** The office's accounts: 200-299 as before, or one account each for an office of more than 100 phones. */
function officeAccounts(count: number): string {
  return count <= 100 ? "200-299" : `1000-${999 + count}`;
}

function pbxFor(kind: SynthKind, options: SynthOptions) {
  const users = kind === "nat-office" ? officeAccounts(options.count ?? 100) : "200-299";
  return { address: "198.51.100.10", port: 5060, iax2Port: 4569, tlsPort: 5061, realm: "asterisk", interface: "eth0", accounts: [{ users, password: "synth-{user}-Secret" }] };
}

/** A lab range holding `count` attackers: the /24 of old for up to 254, a larger block of 198.19.0.0/16 beyond. */
function botnetCidr(count: number): string {
  if (count <= 254) return "198.19.40.0/24";
  return `198.19.0.0/${32 - Math.ceil(Math.log2(count + 2))}`;
}

function trafficFor(kind: SynthKind, options: SynthOptions): { hosts: Record<string, unknown>; traffic: Record<string, unknown>[] } {
  const duration = options.durationSeconds ?? 10;
  switch (kind) {
    case "svwar":
      // svwar: one address, its fixed port 5060, "friendly-scanner", bare REGISTERs walking 100, 101, ...
      return {
        hosts: { scanner: { kind: "addresses", addresses: ["198.18.66.6"] } },
        traffic: [{ name: "svwar", kind: "register-flood", host: "scanner", mode: "svwar", ratePps: options.ratePps ?? 50, durationSeconds: duration, extensions: "100-999", onAnswerLikeRandom: "walk-on" }],
      };
    case "svcrack":
      // svcrack: one extension, a challenge, then a guess per request from the dictionary.
      return {
        hosts: { scanner: { kind: "addresses", addresses: ["198.18.66.7"] } },
        traffic: [{ name: "svcrack", kind: "register-flood", host: "scanner", mode: "svcrack", ratePps: options.ratePps ?? 20, durationSeconds: duration, extensions: "200-200" }],
      };
    case "register-flood":
      return {
        hosts: { botnet: { kind: "range", cidr: botnetCidr(options.count ?? 20), count: options.count ?? 20 } },
        traffic: [{ name: "botnet", kind: "register-flood", host: "botnet", mode: "svwar", ratePps: options.ratePps ?? 5, durationSeconds: duration, sourcePort: "random", onAnswerLikeRandom: "walk-on" }],
      };
    case "iax2-guess":
      // An IAX2 brute force: a call per guess (a call token asked for, the call opened with it, the MD5 answer), from port 4569.
      return {
        hosts: { guesser: { kind: "addresses", addresses: ["198.18.66.8"] } },
        traffic: [{ name: "iax2-guess", kind: "iax2-flood", host: "guesser", mode: "guess", peers: "200-200", ratePps: options.ratePps ?? 5, durationSeconds: duration }],
      };
    case "nat-office":
      return {
        // The office LAN keeps .1-.9 for its router: a /24 holds 245 phones, a /18 of 198.18.128.0 the rest.
        hosts: { office: { kind: "nat", public: "198.18.10.1", lan: (options.count ?? 100) <= 245 ? "192.0.2.0/24" : "198.18.128.0/18" } },
        traffic: [{ name: "office", kind: "phones", host: "office", count: options.count ?? 100, accounts: officeAccounts(options.count ?? 100) }],
      };
  }
}

/**
 * A capture of what a tool's traffic looks like on the PBX's wire: the
 * traffic source runs against the Asterisk model behind an accept-all
 * firewall, and every packet both ways is written as tcpdump would (pcap,
 * raw IP, microseconds).
 */
export function synthesizeCapture(kind: SynthKind, options: SynthOptions): { bytes: Uint8Array; packets: number } {
  const { hosts, traffic } = trafficFor(kind, options);
  const durationSeconds = (options.durationSeconds ?? 10) + 35; // room for the last transactions to finish
  const parsed = scenarioSchema.parse({
    name: `synth-${kind}`,
    description: `synthesised ${kind} capture`,
    seed: options.seed,
    durationSeconds,
    firewall: { policy: "default" },
    pbx: pbxFor(kind, options),
    hosts,
    traffic,
    expect: [],
  });
  const scenario: Scenario = {
    ...parsed,
    variant: null,
    file: `<synth ${kind}>`,
    firewall: { kind: "ruleset", path: "<accept-all>", text: ACCEPT_ALL },
  };
  checkPacketBudget(scenario, options.maxPackets);
  const result = runModel(scenario, { keepPackets: true });
  const records = result.verdicts.map((verdict) => ({ timestampNs: CAPTURE_EPOCH_NS + BigInt(verdict.atUs) * 1000n, data: result.packets![verdict.packetId]! }));
  return { bytes: pcapFile(LINKTYPE_RAW, records), packets: records.length };
}
