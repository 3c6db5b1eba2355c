import { describe, expect, it } from "vitest";
import { parseRuleset } from "../../src/firewall/parse-ruleset.js";
import { AIM_INTO_JIFFY_US, mayAimWithinJiffies, plannedSendTime } from "../../src/engines/planned-send-time.js";

describe("when the lab sends a planned packet", () => {
  it("stays in its jiffy, early enough that 3.1 ms of lateness keeps it there", () => {
    for (const atUs of [40_000, 41_234, 42_500, 43_999, 43_999.9]) {
      const sentUs = plannedSendTime(atUs, 4000);
      expect(Math.floor(sentUs / 4000)).toBe(10);
      expect(Math.floor((sentUs + 3099) / 4000)).toBe(10);
      expect(sentUs - 40_000).toBeGreaterThanOrEqual(AIM_INTO_JIFFY_US);
    }
  });

  it("keeps planned packets in their order, and apart", () => {
    expect(plannedSendTime(43_900, 4000) - plannedSendTime(43_800, 4000)).toBe(12.5);
    expect(plannedSendTime(43_999, 4000)).toBeLessThan(plannedSendTime(44_000, 4000));
  });

  const rules = (match: string) => parseRuleset(`*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p udp --dport 5060 ${match} -j DROP\nCOMMIT\n`, "test");
  it("is not used where a rule reads nftables' nanosecond clock (limit on iptables-nft)", () => {
    expect(mayAimWithinJiffies(rules("-m limit --limit 20/sec"), { iptablesNft: true })).toBe(false);
    expect(mayAimWithinJiffies(rules("-m limit --limit 20/sec"), { iptablesNft: false })).toBe(true);
    expect(mayAimWithinJiffies(rules("-m recent --rcheck --seconds 60 --hitcount 10 --name SIP"), { iptablesNft: true })).toBe(true);
  });
});
