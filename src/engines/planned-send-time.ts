import type { Ruleset } from "../firewall/ruleset.js";
import type { KernelSettings } from "./model/kernel-settings.js";

/**
 * When the docker lab sends a planned packet (one a source scheduled, not an
 * answer to a reply): 0.4 ms into the jiffy its scheduled time falls in, plus
 * an eighth of its offset in that jiffy.
 *
 * The filter reads jiffies, so to every jiffy-counting match (recent,
 * hashlimit, xt_limit, conntrack timeouts) this is the scheduled moment, the
 * one the model judges at. Sent at its scheduled time, a packet near the end
 * of a jiffy lands in the next one if it leaves a few µs late; aimed here it
 * keeps its jiffy with 3.1 ms of lateness, more than most of the stalls left
 * in the runner (1.5 to 3.2 ms in random-73). The 0.4 ms before it leave the
 * tick's own interrupt, which lands 15 to 80 µs after the boundary here, time
 * to count the jiffy. The map keeps planned packets in their order, across
 * traffic containers too.
 */
export const AIM_INTO_JIFFY_US = 400;
const COMPRESSION = 8;

export function plannedSendTime(atUs: number, jiffyUs: number): number {
  const jiffyStartUs = Math.floor(atUs / jiffyUs) * jiffyUs;
  return jiffyStartUs + AIM_INTO_JIFFY_US + (atUs - jiffyStartUs) / COMPRESSION;
}

/**
 * Whether the lab may aim planned packets within their jiffies: not when a
 * rule reads a nanosecond clock. iptables-nft's `limit` is nftables' limit,
 * a token bucket in ns, which sees the spacing between packets; bunching a
 * jiffy's packets would change which of them gets a token.
 */
export function mayAimWithinJiffies(ruleset: Ruleset, settings: Pick<KernelSettings, "iptablesNft">): boolean {
  if (!settings.iptablesNft) return true;
  for (const table of ruleset.tables.values()) {
    for (const chain of table.chains.values()) {
      if (chain.rules.some((rule) => rule.matches.some((match) => match.module === "limit"))) return false;
    }
  }
  return true;
}
