import type { MatchOptions } from "./match-options.js";

export interface PortRange {
  readonly min: number;
  readonly max: number;
}

/** "5060", "5060:5080", ":1024", "1024:" as iptables' parse_port_range reads them. */
export function parsePortRange(text: string, options: MatchOptions, flag: string): PortRange {
  const parts = text.split(":");
  if (parts.length > 2) throw options.error(`--${flag} ${text}: expected a port or a range a:b`);
  const port = (part: string, fallback: number): number => {
    if (part === "") return fallback;
    if (!/^\d+$/.test(part)) throw options.error(`--${flag} ${text}: "${part}" is not a port number (service names are not resolved)`);
    // iptables 1.8.9 keeps the low 16 bits of a bigger number: --dport 65537 loads as 1 (iptables-save shows it).
    return part.length > 20 ? 65535 : Number(BigInt(part) % 65536n);
  };
  const min = port(parts[0]!, 0);
  const max = parts.length === 2 ? port(parts[1]!, 65535) : min;
  // A reversed range loads and matches nothing (the kernel's port_match tests min <= port <= max).
  return { min, max };
}
