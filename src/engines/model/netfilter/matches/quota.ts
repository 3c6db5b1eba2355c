import type { MatchFactory } from "../match.js";
import { MatchOptions } from "./match-options.js";

/**
 * xt_quota.c quota_mt: each rule holds `--quota BYTES` and takes each packet's
 * length (skb->len: the whole IP datagram) from it while it lasts, matching
 * those packets; the first packet it cannot cover empties it, and from then on
 * nothing matches (`!` inverts: what is over the quota). Above 2^53 bytes the
 * quota is kept as the nearest number, which no run uses up.
 */
export const quotaMatch: MatchFactory = (rawOptions, _state, where) => {
  const options = new MatchOptions("quota", rawOptions, where);
  const option = options.get("quota");
  if (!option) throw options.error(`option "--quota" must be specified`);
  const text = option.args[0]!;
  if (!/^\d+$/.test(text) || BigInt(text) > 0xffffffffffffffffn) throw options.error(`--quota ${text}: a number of bytes from 0 to 18446744073709551615`);
  let remaining = Number(text);
  const inverted = option.negated;
  return (packet) => {
    const length = packet.bytes.length;
    if (remaining >= length) {
      remaining -= length;
      return !inverted;
    }
    remaining = 0;
    return inverted;
  };
};
