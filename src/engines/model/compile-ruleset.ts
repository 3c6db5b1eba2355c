import { looksLikeNft, parseNftRuleset } from "../../firewall/nft/parse-nft.js";
import { parseRuleset } from "../../firewall/parse-ruleset.js";
import { compileFirewall, type CompiledFirewall } from "./netfilter/interpreter.js";
import type { MatchState } from "./netfilter/match.js";
import { compileNftFirewall } from "./nftables/compile-nft.js";

/** A ruleset's text as the model runs it: nftables (nft list ruleset, nft -f) or iptables-save, told apart by its first statement. */
export function compileRulesetText(text: string, source: string | undefined, state: MatchState): CompiledFirewall {
  return looksLikeNft(text) ? compileNftFirewall(parseNftRuleset(text, source), state.settings, source, undefined, state.localAddresses ?? [], state.wallClockStartMs) : compileFirewall(parseRuleset(text, source), state);
}
