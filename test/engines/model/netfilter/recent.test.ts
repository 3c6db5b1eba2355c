import { describe, expect, it } from "vitest";
import { dumpRecentTable } from "../../../../src/engines/model/netfilter/matches/recent.js";
import { RulesetError } from "../../../../src/firewall/ruleset.js";
import { HZ, firewallOf, udpPacket } from "../../../helpers/firewall.js";

/** The reference post's pair: remember every packet, drop on the Nth within the window. */
const counting = (hits: number, seconds: number, extra = "") => `
-A INPUT -m recent --set --name SIP --rsource${extra}
-A INPUT -m recent --rcheck --seconds ${seconds} --hitcount ${hits} --name SIP --rsource -j DROP`;

describe("xt_recent --rcheck --seconds --hitcount", () => {
  it("drops the packet that makes the hitcount, not one before", () => {
    const firewall = firewallOf(counting(3, 60));
    const packet = udpPacket("198.18.1.1");
    expect([0, 1, 2, 3].map((t) => firewall.accepts(packet, t))).toEqual([true, true, false, false]);
  });

  it("counts a stamp exactly `seconds` old and forgets it one jiffy later (time_after in recent_mt)", () => {
    const window = 60 * HZ;
    const exactlyOld = firewallOf(counting(3, 60));
    const packet = udpPacket("198.18.1.2");
    expect(exactlyOld.accepts(packet, 0)).toBe(true);
    expect(exactlyOld.accepts(packet, 1)).toBe(true);
    // The third packet lands when the first stamp is exactly 60 s old: still counted, so 3 hits.
    expect(exactlyOld.accepts(packet, window)).toBe(false);

    const oneJiffyLater = firewallOf(counting(3, 60));
    expect(oneJiffyLater.accepts(packet, 0)).toBe(true);
    expect(oneJiffyLater.accepts(packet, 1)).toBe(true);
    expect(oneJiffyLater.accepts(packet, window + 1)).toBe(true);
  });

  it("keeps sources apart, and --mask groups a /24 into one entry", () => {
    const separate = firewallOf(counting(2, 60));
    expect(separate.accepts(udpPacket("198.18.1.1"), 0)).toBe(true);
    expect(separate.accepts(udpPacket("198.18.1.2"), 1)).toBe(true);
    const masked = firewallOf(`
-A INPUT -m recent --set --name NET --mask 255.255.255.0 --rsource
-A INPUT -m recent --rcheck --seconds 60 --hitcount 2 --name NET --mask 255.255.255.0 --rsource -j DROP`);
    expect(masked.accepts(udpPacket("198.18.1.1"), 0)).toBe(true);
    expect(masked.accepts(udpPacket("198.18.1.2"), 1)).toBe(false);
  });

  it("counts only stamps inside the window, however many old ones the entry holds", () => {
    const firewall = firewallOf(`
-A INPUT -m recent --set --name SIP --rsource
-A INPUT -m recent --rcheck --seconds 10 --hitcount 20 --name SIP --rsource -j DROP`);
    const packet = udpPacket("198.18.1.3");
    // 19 packets long ago, then one now: only 1 stamp in the window.
    for (let t = 0; t < 19; t++) firewall.accepts(packet, t);
    expect(firewall.accepts(packet, 100 * HZ)).toBe(true);
  });

  it("--update refreshes the entry only when it matched, so a blocked source stays blocked while it keeps sending", () => {
    const firewall = firewallOf(`
-A INPUT -m recent --update --seconds 120 --name BLOCK --rsource -j DROP
-A INPUT -m recent --set --name BLOCK --rsource -j DROP`);
    const packet = udpPacket("198.18.1.4");
    expect(firewall.accepts(packet, 0)).toBe(false); // --set, dropped
    // Every 100 s: always inside the 120 s window of the previous packet.
    for (let t = 100; t <= 1000; t += 100) expect(firewall.accepts(packet, t * HZ)).toBe(false);
    expect(dumpRecentTable(firewall.state, "BLOCK")).toContain("src=198.18.1.4");
  });

  it("--rttl only matches packets with the TTL the entry was set with", () => {
    const firewall = firewallOf(`
-A INPUT -m recent --set --name T --rsource
-A INPUT -m recent --rcheck --rttl --hitcount 2 --name T --rsource -j DROP`);
    expect(firewall.accepts(udpPacket("198.18.1.5", undefined, { ttl: 50 }), 0)).toBe(true);
    // A spoofer with another TTL: --set overwrote the entry's TTL to 60, so the next 60 matches.
    expect(firewall.accepts(udpPacket("198.18.1.5", undefined, { ttl: 60 }), 1)).toBe(false);
    const strict = firewallOf(`
-A INPUT -m recent --rcheck --rttl --name U --rsource -j DROP
-A INPUT -m recent --set --name U --rsource`);
    expect(strict.accepts(udpPacket("198.18.1.6", undefined, { ttl: 50 }), 0)).toBe(true);
    expect(strict.accepts(udpPacket("198.18.1.6", undefined, { ttl: 51 }), 1)).toBe(true);
    expect(strict.accepts(udpPacket("198.18.1.6", undefined, { ttl: 51 }), 2)).toBe(false);
  });

  it("--remove deletes the entry: counting starts again", () => {
    const firewall = firewallOf(`
-A INPUT -p udp --dport 5061 -m recent --remove --name SIP --rsource -j ACCEPT
${counting(2, 60)}`);
    const packet = udpPacket("198.18.1.7");
    expect(firewall.accepts(packet, 0)).toBe(true);
    expect(firewall.accepts(udpPacket("198.18.1.7", "x", { dport: 5061 }), 1)).toBe(true);
    expect(firewall.accepts(packet, 2)).toBe(true);
    expect(firewall.accepts(packet, 3)).toBe(false);
  });
});

describe("xt_recent table size (ip_list_tot)", () => {
  it("evicts the least recently updated address when a 101st arrives", () => {
    const firewall = firewallOf(counting(2, 60));
    for (let i = 0; i < 100; i++) firewall.accepts(udpPacket(`198.19.0.${i + 1}`), i);
    // Refresh the oldest so the second-oldest becomes the eviction candidate.
    expect(firewall.accepts(udpPacket("198.19.0.1"), 200)).toBe(false);
    firewall.accepts(udpPacket("198.19.1.1"), 201);
    const table = dumpRecentTable(firewall.state, "SIP");
    expect(table).not.toContain("src=198.19.0.2 ");
    expect(table).toContain("src=198.19.0.1 ");
    expect(table.split("\n")).toHaveLength(100);
    // The evicted address starts from zero: its next packet is its first hit again.
    expect(firewall.accepts(udpPacket("198.19.0.2"), 202)).toBe(true);
  });

  it("honours a smaller ip_list_tot module parameter", () => {
    const firewall = firewallOf(counting(2, 60), { recentIpListTot: 2 });
    firewall.accepts(udpPacket("198.18.2.1"), 0);
    firewall.accepts(udpPacket("198.18.2.2"), 1);
    firewall.accepts(udpPacket("198.18.2.3"), 2);
    expect(firewall.accepts(udpPacket("198.18.2.1"), 3)).toBe(true);
  });

  it("a newcomer in an evicted address's place starts with one stamp, not the evicted one's", () => {
    const firewall = firewallOf(counting(3, 60), { recentIpListTot: 1 });
    // Two stamps for the first address (the third packet would be dropped)...
    expect([0, 1].map((t) => firewall.accepts(udpPacket("198.18.4.1"), t))).toEqual([true, true]);
    // ...then a second address takes its place: its own first and second packets pass, its third is dropped.
    expect([2, 3, 4].map((t) => firewall.accepts(udpPacket("198.18.4.2"), t))).toEqual([true, true, false]);
    expect(dumpRecentTable(firewall.state, "SIP").split("\n")).toHaveLength(1);
    expect(dumpRecentTable(firewall.state, "SIP")).toMatch(/^src=198\.18\.4\.2 ttl: 64 last_seen: \d+ oldest_pkt: 3 \d+, \d+, \d+$/);
  });

  it("--reap removes the stale LRU head while checking another address", () => {
    const firewall = firewallOf(`
-A INPUT -m recent --set --name R --rsource
-A INPUT -m recent --rcheck --seconds 10 --reap --hitcount 50 --name R --rsource -j DROP`);
    firewall.accepts(udpPacket("198.18.3.1"), 0);
    firewall.accepts(udpPacket("198.18.3.2"), 20 * HZ);
    expect(dumpRecentTable(firewall.state, "R")).not.toContain("198.18.3.1");
  });
});

describe("xt_recent options the kernel refuses", () => {
  it("rejects --hitcount above XT_RECENT_MAX_NSTAMPS - 1, naming the limit", () => {
    expect(() => firewallOf("-A INPUT -m recent --rcheck --seconds 60 --hitcount 65536 --name SIP -j DROP")).toThrow(/--hitcount 65536 is larger than the allowed maximum 65535/);
    expect(() => firewallOf("-A INPUT -m recent --rcheck --seconds 60 --hitcount 65535 --name SIP -j DROP")).not.toThrow();
  });

  it("rejects two commands in one rule and --seconds with --set", () => {
    expect(() => firewallOf("-A INPUT -m recent --set --rcheck --name SIP")).toThrow(RulesetError);
    expect(() => firewallOf("-A INPUT -m recent --set --seconds 60 --name SIP")).toThrow(/only go with --rcheck or --update/);
  });
});
