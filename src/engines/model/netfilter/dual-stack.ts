import { parseRuleset } from "../../../firewall/parse-ruleset.js";
import { NOTHING_LOADED } from "../../../firewall/ruleset.js";
import { compileFirewall, type CompiledFirewall } from "./interpreter.js";
import type { MatchState } from "./match.js";


/**
 * iptables' and ip6tables' rules side by side, as a host runs them: each
 * packet meets its own family's tables. Both share one MatchState, as the
 * kernel's xt_recent shares a list name across families (its entries keep
 * their family, as address numbers do here). Without ip6tables rules IPv6
 * meets ACCEPT policies, as on a host that never loaded any.
 */
export function dualStackFirewall(ipv4: CompiledFirewall, ipv6Text: string | undefined, ipv6Source: string | undefined, state: MatchState): CompiledFirewall {
  const ipv6 = compileFirewall(parseRuleset(ipv6Text ?? NOTHING_LOADED, ipv6Source ?? "ip6tables (no rules loaded)", undefined, 6), state);
  return {
    judge: (hook, packet, context) => (packet.family === 6 ? ipv6 : ipv4).judge(hook, packet, context),
    judgeRoute: (hook, packet, start, tracker) => (packet.family === 6 ? ipv6 : ipv4).judgeRoute(hook, packet, start, tracker),
    counters: () => [...ipv4.counters(), ...ipv6.counters().map((counter) => ({ ...counter, family: 6 as const }))],
  };
}
