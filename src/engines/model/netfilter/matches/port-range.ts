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
    const value = /^\d+$/.test(part) ? Number(part) : Number.NaN;
    if (!(value >= 0 && value <= 65535)) throw options.error(`--${flag} ${text}: "${part}" is not a port number 0-65535 (service names are not resolved)`);
    return value;
  };
  const min = port(parts[0]!, 0);
  const max = parts.length === 2 ? port(parts[1]!, 65535) : min;
  if (min > max) throw options.error(`--${flag} ${text}: range start is above its end`);
  return { min, max };
}
