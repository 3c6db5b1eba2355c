import type { KernelSettings } from "../engines/model/kernel-settings.js";
import { CommandLineError } from "./exit-codes.js";

export function parseSeed(text: string): number {
  const seed = Number(text);
  if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 31 - 1) {
    throw new CommandLineError(`--seed ${text}: expected a whole number from 0 to ${2 ** 31 - 1}`);
  }
  return seed;
}

/** `--max-packets N`: the packet budget a run may use (see estimate-packets). */
export function parseMaxPackets(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new CommandLineError(`--max-packets ${text}: expected a whole number of packets, such as 20000000`);
  return value;
}

/** Kernel parameters by the names the kernel gives them (module parameters and sysctls). */
const kernelParameters: Record<string, { field: keyof KernelSettings; min: number; max: number }> = {
  hz: { field: "hz", min: 100, max: 1000 },
  "xt_recent.ip_list_tot": { field: "recentIpListTot", min: 1, max: 1_000_000 },
  "xt_recent.ip_pkt_list_tot": { field: "recentIpPktListTot", min: 0, max: 65535 },
  nf_conntrack_udp_timeout: { field: "conntrackUdpTimeoutSeconds", min: 1, max: 86_400 },
  nf_conntrack_udp_timeout_stream: { field: "conntrackUdpTimeoutStreamSeconds", min: 1, max: 86_400 },
  /** 0: only a SYN starts a TCP connection's entry; 1 (the default) also picks up one under way. */
  nf_conntrack_tcp_loose: { field: "conntrackTcpLoose", min: 0, max: 1 },
  /** 0: no nf_defrag_ipv4, the filter judges each fragment (a host without conntrack). */
  nf_defrag_ipv4: { field: "defragment", min: 0, max: 1 },
  /** 0: rules loaded by iptables-legacy (xt_limit in jiffies) rather than iptables-nft (nft limit in ns). */
  iptables_nft: { field: "iptablesNft", min: 0, max: 1 },
};

const booleanFields = new Set<keyof KernelSettings>(["defragment", "iptablesNft", "conntrackTcpLoose"]);

/** `--kernel xt_recent.ip_list_tot=200` (repeatable) -> settings for the model engine. */
export function parseKernelSettings(assignments: readonly string[]): Partial<KernelSettings> {
  const settings: Partial<KernelSettings> = {};
  for (const assignment of assignments) {
    const [name, valueText] = assignment.split("=", 2) as [string, string | undefined];
    const parameter = kernelParameters[name];
    if (!parameter) throw new CommandLineError(`--kernel ${assignment}: unknown parameter "${name}"; known: ${Object.keys(kernelParameters).join(", ")}`);
    const value = Number(valueText);
    if (!Number.isInteger(value) || value < parameter.min || value > parameter.max) {
      throw new CommandLineError(`--kernel ${assignment}: ${name} takes a whole number from ${parameter.min} to ${parameter.max}`);
    }
    if (name === "hz" && ![100, 250, 300, 1000].includes(value)) throw new CommandLineError(`--kernel ${assignment}: CONFIG_HZ is 100, 250, 300 or 1000`);
    (settings as Record<string, number | boolean>)[parameter.field] = booleanFields.has(parameter.field) ? value === 1 : value;
  }
  return settings as Partial<KernelSettings>;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
