import type { Policy } from "../firewall/policy.js";
import type { Expectation, HostSpec, PbxSpec, TrafficSourceSpec } from "./schema.js";

/** The firewall a run uses: generated from a policy, or a user's own ruleset text. */
export type FirewallSpec =
  | { readonly kind: "policy"; readonly policy: Policy; readonly policyName: string; readonly format?: "iptables" | "nft" }
  | {
      readonly kind: "ruleset";
      readonly path: string;
      /** The ruleset as the run loads it: through the scenario's address map when it has one. */
      readonly text: string;
      readonly ipset?: { readonly path: string; readonly text: string };
      /** The same host's ip6tables rules (ip6tables-save), which IPv6 packets meet; absent, none. */
      readonly ipv6?: { readonly path: string; readonly text: string };
      /** What the address map could not rewrite, said with the run's warnings. */
      readonly mappingNotes?: readonly string[];
    };

/**
 * A scenario ready to run: one variant chosen, policy resolved, files read.
 * Engines take exactly this.
 */
export interface Scenario {
  readonly name: string;
  readonly variant: string | null;
  readonly description: string;
  /** The file it came from (built-in scenarios too), for messages and relative paths. */
  readonly file: string;
  readonly seed: number;
  readonly durationSeconds: number;
  /** The wall clock at the run's start (ISO 8601, UTC) for -m time rules; absent, the real time the run starts. */
  readonly startsAt?: string;
  readonly firewall: FirewallSpec;
  readonly pbx: PbxSpec;
  readonly hosts: Readonly<Record<string, HostSpec>>;
  readonly traffic: readonly TrafficSourceSpec[];
  readonly expect: readonly Expectation[];
  /** fail2ban watching Asterisk's log beside the firewall (its ipset and REJECT rule are in `firewall`). */
  readonly fail2ban?: Fail2banDefence;
  /** firewall.addressMap: the user's real networks and the lab networks they stand for (already applied to `firewall`). */
  readonly addressMap?: Readonly<Record<string, string>>;
}

/** fail2ban's asterisk jail: when it bans, and the ipset its ban action fills. */
export interface Fail2banDefence {
  readonly maxretry: number;
  readonly findtimeSeconds: number;
  readonly bantimeSeconds: number;
  /** From the log line that tips a ban to the ban in the kernel. */
  readonly banDelayUs: number;
  /** The hash:ip sets the jail's REJECT rules match, less their protocol: `f2b-asterisk` fills `f2b-asterisk-tcp` and `f2b-asterisk-udp` (the jail's name is what follows `f2b-`). */
  readonly set: string;
  /** How it bans: iptables-ipset (beside an iptables firewall) or fail2ban's nftables action, its own table (beside an nftables one). */
  readonly banAction?: "iptables-ipset" | "nftables";
}

export class ScenarioError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}
