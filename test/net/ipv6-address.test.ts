import { describe, expect, it } from "vitest";
import { AddressError } from "../../src/net/address.js";
import { formatIpv6, ipv6MaskPrefix, isIpv6Value, parseIpv6 } from "../../src/net/ipv6-address.js";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

describe("IPv6 addresses as ip6tables writes them", () => {
  it("reads full, compressed and IPv4-tailed forms", () => {
    expect(hex(parseIpv6("2001:db8::1"))).toBe("20010db8000000000000000000000001");
    expect(hex(parseIpv6("2001:DB8:0:0:0:0:0:1"))).toBe("20010db8000000000000000000000001");
    expect(hex(parseIpv6("::"))).toBe("0".repeat(32));
    expect(hex(parseIpv6("ffff:ffff:ffff:ffff::"))).toBe("f".repeat(16) + "0".repeat(16));
    expect(hex(parseIpv6("::ffff:198.51.100.10"))).toBe("00000000000000000000ffffc633640a");
  });

  it("refuses what is not an address, saying why", () => {
    expect(() => parseIpv6("2001:db8::1::2")).toThrow(AddressError);
    expect(() => parseIpv6("2001:db8::1::2")).toThrow(/"::" more than once/);
    expect(() => parseIpv6("2001:db8:1")).toThrow(/3 groups, not 8/);
    expect(() => parseIpv6("2001:db8::12345")).toThrow(/"12345" is not a group/);
    expect(() => parseIpv6("1:2:3:4:5:6:7::8")).toThrow(/too many groups/);
    expect(() => parseIpv6("::1.2.3.256")).toThrow(/IPv4 tail/);
  });

  it("tells a mask's prefix length, and that a mask with holes has none", () => {
    expect(ipv6MaskPrefix(parseIpv6("ffff:ffff:ffff:ffff::"))).toBe(64);
    expect(ipv6MaskPrefix(parseIpv6("ffff:ffff:ffff:ff00::"))).toBe(56);
    expect(ipv6MaskPrefix(parseIpv6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))).toBe(128);
    expect(ipv6MaskPrefix(parseIpv6("::"))).toBe(0);
    expect(ipv6MaskPrefix(parseIpv6("ffff::ffff"))).toBeNull();
  });
});

describe("IPv6 addresses as nft and ip print them", () => {
  it("compresses the longest run of zero groups, lower case, no leading zeros (RFC 5952)", () => {
    expect(formatIpv6(parseIpv6("2001:0DB8:0000:0000:0000:0000:0000:0010"))).toBe("2001:db8::10");
    expect(formatIpv6(parseIpv6("2001:db8:0:1:0:0:0:1"))).toBe("2001:db8:0:1::1");
    expect(formatIpv6(parseIpv6("2001:db8:0:1:1:1:1:1"))).toBe("2001:db8:0:1:1:1:1:1");
    expect(formatIpv6(parseIpv6("::"))).toBe("::");
    expect(formatIpv6(parseIpv6("ffff:ffff:ffff:ffff::"))).toBe("ffff:ffff:ffff:ffff::");
    expect(formatIpv6(parseIpv6("::1"))).toBe("::1");
  });
});

describe("IPv6 values as nft takes them", () => {
  it("an address, a prefix up to /128 or a range of two addresses; anything else is not one", () => {
    expect(["2001:db8::1", "2001:db8::/32", "fe80::/10", "2001:db8::1-2001:db8::ff"].map(isIpv6Value)).toEqual([true, true, true, true]);
    expect(["2001:db8::/129", "2001:db8::1-nothing", "198.51.100.10", "2001:db8::g"].map(isIpv6Value)).toEqual([false, false, false, false]);
  });
});
