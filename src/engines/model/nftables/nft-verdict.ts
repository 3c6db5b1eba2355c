import { NftValueError } from "./nft-values.js";

/** A verdict as a rule or a verdict map's element gives it (nft_verdict_init's codes). */
export type NftVerdict = { readonly kind: "accept" | "drop" | "reject" | "continue" | "return" } | { readonly kind: "jump" | "goto"; readonly chain: string };

/**
 * A verdict map element's data: accept, drop, continue, return, jump CHAIN
 * or goto CHAIN (a map holds no reject: nft takes only these), the chain one
 * of the table's.
 */
export function parseMapVerdict(words: readonly string[], chains: ReadonlySet<string>): NftVerdict {
  if (words.length === 1 && (words[0] === "accept" || words[0] === "drop" || words[0] === "continue" || words[0] === "return")) return { kind: words[0] };
  if (words.length === 2 && (words[0] === "jump" || words[0] === "goto")) {
    if (!chains.has(words[1]!)) throw new NftValueError(`${words.join(" ")}: no such chain in this table`);
    return { kind: words[0], chain: words[1]! };
  }
  throw new NftValueError(`verdict "${words.join(" ")}": a verdict map's element is accept, drop, continue, return, jump CHAIN or goto CHAIN`);
}
