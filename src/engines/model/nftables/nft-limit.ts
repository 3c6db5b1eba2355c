/**
 * nft's `limit rate [over] N/unit [burst B packets]` as net/netfilter/
 * nft_limit.c keeps it: a bucket of nanoseconds, cost = unit/N per packet,
 * full at cost*burst (burst 5 when none is given), refilled by the
 * nanoseconds that passed (ktime, not jiffies). A byte rate (`N kbytes/second
 * [burst B bytes]`, nft_limit_bytes_eval) costs unit*length/N a packet, and
 * its bucket holds unit*(N + B)/N (no default burst). Without `over` the rule goes
 * on while tokens last; with it, only once they have run out. A bucket is
 * full when made: when the rule is loaded, or when a set statement makes
 * the element that holds it (nft_limit_clone).
 */
export interface NftLimitBucket {
  /** Whether the rule goes on (no NFT_BREAK) for a packet of `length` bytes at this time. */
  allows(clockNs: number, length: number): boolean;
}

export interface NftLimitSpec {
  readonly rate: number;
  readonly unitSeconds: number;
  readonly burst: number;
  readonly over: boolean;
  /** A byte rate: `rate` and `burst` count bytes. */
  readonly bytes?: boolean;
}

/** NFT_LIMIT_PKT_BURST_DEFAULT. */
const DEFAULT_BURST = 5;

export function nftLimitBucket(spec: NftLimitSpec): NftLimitBucket {
  const nsecs = BigInt(spec.unitSeconds) * 1_000_000_000n;
  const rate = BigInt(spec.rate);
  const packetCost = nsecs / rate;
  const tokensMax = spec.bytes ? (nsecs * (rate + BigInt(spec.burst))) / rate : packetCost * BigInt(spec.burst || DEFAULT_BURST);
  let tokens = tokensMax;
  let last: bigint | null = null;
  return {
    allows(clockNs, length) {
      const cost = spec.bytes ? (nsecs * BigInt(length)) / rate : packetCost;
      const now = BigInt(Math.round(clockNs));
      let available = last === null ? tokensMax : tokens + (now - last);
      if (available > tokensMax) available = tokensMax;
      last = now;
      // nft_limit_eval answers `invert` with tokens to spare, `!invert` without; true breaks the rule.
      if (available >= cost) {
        tokens = available - cost;
        return !spec.over;
      }
      tokens = available;
      return spec.over;
    },
  };
}
