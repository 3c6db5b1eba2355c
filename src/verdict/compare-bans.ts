import type { Fail2banRun } from "./run-result.js";

/** fail2ban in two runs of one scenario: whom each banned, and how far apart in time. */
export interface BanComparison {
  /** Addresses both banned (their first bans paired). */
  readonly both: number;
  readonly modelOnly: readonly string[];
  readonly kernelOnly: readonly string[];
  /** Model's ban time less the kernel's, per address both banned, in µs, ascending. */
  readonly offsetsUs: readonly number[];
}

/** Pairs each address's first ban in the model with its first ban in the real run. */
export function compareBans(model: Fail2banRun, real: Fail2banRun): BanComparison {
  const firstBans = (run: Fail2banRun) => {
    const first = new Map<string, number>();
    for (const ban of run.bans) if (!first.has(ban.address)) first.set(ban.address, ban.atUs);
    return first;
  };
  const modelBans = firstBans(model);
  const realBans = firstBans(real);
  const offsetsUs = [...modelBans].flatMap(([address, atUs]) => (realBans.has(address) ? [atUs - realBans.get(address)!] : [])).sort((a, b) => a - b);
  return {
    both: offsetsUs.length,
    modelOnly: [...modelBans.keys()].filter((address) => !realBans.has(address)),
    kernelOnly: [...realBans.keys()].filter((address) => !modelBans.has(address)),
    offsetsUs,
  };
}

/** "12 addresses banned by both, none by one only; model's ban time less the kernel's: median +12 ms, from -80 to +150 ms". */
export function describeBanComparison(bans: BanComparison): string {
  const ms = (us: number) => `${us >= 0 ? "+" : ""}${Math.round(us / 1000)} ms`;
  const onlyOne = [...bans.modelOnly.map((address) => `${address} (model only)`), ...bans.kernelOnly.map((address) => `${address} (kernel only)`)];
  const timing = bans.offsetsUs.length
    ? `; model's ban time less fail2ban's: median ${ms(bans.offsetsUs[Math.floor(bans.offsetsUs.length / 2)]!)}, from ${ms(bans.offsetsUs[0]!)} to ${ms(bans.offsetsUs.at(-1)!)}`
    : "";
  return `${bans.both} address${bans.both === 1 ? "" : "es"} banned by both, ${onlyOne.length ? onlyOne.join(", ") : "none by one only"}${timing}`;
}
