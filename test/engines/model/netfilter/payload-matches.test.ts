import { describe, expect, it } from "vitest";
import { firewallOf, udpPacket } from "../../../helpers/firewall.js";

const register = "REGISTER sip:198.51.100.10 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.1.1\r\n\r\n";
const invite = "INVITE sip:200@198.51.100.10 SIP/2.0\r\nSubject: REGISTER now\r\n\r\n";

describe("string match", () => {
  it("--from/--to bound where the pattern may start: REGISTER at payload offset 28 matches, one in a header does not", () => {
    const firewall = firewallOf('-A INPUT -m string --string "REGISTER " --algo kmp --from 28 --to 37 -j DROP');
    expect(firewall.accepts(udpPacket("198.18.1.1", register), 0)).toBe(false);
    expect(firewall.accepts(udpPacket("198.18.1.1", invite), 0)).toBe(true);
  });

  it("unbounded, finds the word anywhere in the packet (the reference post's rule counts INVITEs that mention REGISTER)", () => {
    const firewall = firewallOf('-A INPUT -m string --string "REGISTER" --algo bm --to 65535 -j DROP');
    expect(firewall.accepts(udpPacket("198.18.1.1", invite), 0)).toBe(false);
  });

  it("searches the IP header too: IP options shift the payload past --to and the anchored rule misses", () => {
    const firewall = firewallOf('-A INPUT -m string --string "REGISTER " --algo kmp --from 28 --to 37 -j DROP');
    const withOptions = udpPacket("198.18.1.1", register, { ipOptions: Uint8Array.of(1, 1, 1, 0) }); // NOP NOP NOP EOL
    expect(firewall.accepts(withOptions, 0)).toBe(true);
  });

  it("--to is where the match may end at the latest: a pattern that starts inside but runs past does not match", () => {
    const tight = firewallOf('-A INPUT -m string --string "REGISTER " --algo kmp --from 28 --to 36 -j DROP');
    expect(tight.accepts(udpPacket("198.18.1.1", register), 0)).toBe(true);
  });

  it("--icase folds case; --hex-string matches bytes", () => {
    const icase = firewallOf('-A INPUT -m string --string "register " --algo bm --icase --from 28 --to 37 -j DROP');
    expect(icase.accepts(udpPacket("198.18.1.1", register), 0)).toBe(false);
    const hex = firewallOf('-A INPUT -m string --hex-string "|52 45 47|ISTER" --algo kmp --from 28 --to 37 -j DROP');
    expect(hex.accepts(udpPacket("198.18.1.1", register), 0)).toBe(false);
  });

  it("! inverts", () => {
    const firewall = firewallOf('-A INPUT -m string ! --string "REGISTER " --algo kmp --from 28 --to 37 -j DROP');
    expect(firewall.accepts(udpPacket("198.18.1.1", register), 0)).toBe(true);
    expect(firewall.accepts(udpPacket("198.18.1.1", invite), 0)).toBe(false);
  });
});

describe("u32 match", () => {
  it('reads "REGI" as the first payload word of an option-less UDP packet', () => {
    const firewall = firewallOf('-A INPUT -p udp -m u32 --u32 "0x1c=0x52454749" -j DROP');
    expect(firewall.accepts(udpPacket("198.18.1.1", register), 0)).toBe(false);
    expect(firewall.accepts(udpPacket("198.18.1.1", invite), 0)).toBe(true);
  });

  it("follows the IHL with @ so IP options do not fool it", () => {
    const firewall = firewallOf('-A INPUT -p udp -m u32 --u32 "0>>22&0x3C@8=0x52454749" -j DROP');
    expect(firewall.accepts(udpPacket("198.18.1.1", register, { ipOptions: Uint8Array.of(1, 1, 1, 0) }), 0)).toBe(false);
  });

  it("is false when the read runs past the packet, like the kernel's bounds check", () => {
    const firewall = firewallOf('-A INPUT -p udp -m u32 --u32 "0x400=0x0" -j DROP');
    expect(firewall.accepts(udpPacket("198.18.1.1", register), 0)).toBe(true);
  });

  it("takes ranges and alternatives after =, and && between tests", () => {
    const firewall = firewallOf('-A INPUT -p udp -m u32 --u32 "0x1c=0x1:0x2,0x52454700:0x524547ff && 0x20=0x53544552" -j DROP');
    expect(firewall.accepts(udpPacket("198.18.1.1", register), 0)).toBe(false);
    const both = firewallOf('-A INPUT -p udp -m u32 --u32 "0x1c=0x52454749 && 0x20=0x0" -j DROP');
    expect(both.accepts(udpPacket("198.18.1.1", register), 0)).toBe(true);
  });
});
