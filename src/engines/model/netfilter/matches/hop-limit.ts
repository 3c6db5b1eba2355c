import type { MatchFactory } from "../match.js";
import { MatchOptions } from "./match-options.js";

/**
 * xt_hl.c: `-m ttl` (IPv4's TTL) and `-m hl` (IPv6's hop limit) against a
 * value as the packet reaches the hook: equal, not equal (`! --ttl-eq`), less
 * than or greater than. UFW's IPv6 rules accept neighbour discovery only with
 * `-m hl --hl-eq 255`, the hop limit no router has decremented.
 */
function hopLimitMatch(module: "ttl" | "hl"): MatchFactory {
  return (rawOptions, _state, where) => {
    const options = new MatchOptions(module, rawOptions, where);
    const given = (["eq", "lt", "gt"] as const).filter((mode) => options.has(`${module}-${mode}`));
    // libxt_hl's options exclude one another, and one is required.
    if (given.length !== 1) throw options.error(`give one of --${module}-eq, --${module}-lt or --${module}-gt`);
    const mode = given[0]!;
    const option = options.get(`${module}-${mode}`)!;
    // libxt_hl: "unexpected ! for <" (and for >): only equality inverts.
    if (option.negated && mode !== "eq") throw options.error(`! --${module}-${mode}: only --${module}-eq can be negated`);
    const value = options.integer(`${module}-${mode}`, 0, 0, 255);
    if (mode === "lt") return (packet) => packet.ttl < value;
    if (mode === "gt") return (packet) => packet.ttl > value;
    return option.negated ? (packet) => packet.ttl !== value : (packet) => packet.ttl === value;
  };
}

export const ttlMatch = hopLimitMatch("ttl");
export const hlMatch = hopLimitMatch("hl");
