import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/run-cli.js";
import { scratchDirectory } from "../helpers/scratch-directory.js";

const run = runCli;

const work = scratchDirectory("bad-input");
const file = (name: string, content: string | Uint8Array) => {
  const path = join(work, name);
  writeFileSync(path, content);
  return path;
};

const scenario = (patch: (text: string) => string) =>
  patch(`name: s
description: a scanner
durationSeconds: 10
firewall: { policy: default }
hosts:
  scanner: { kind: addresses, addresses: [198.18.66.6] }
traffic:
  - { name: flood, kind: register-flood, host: scanner, ratePps: 5, durationSeconds: 10 }
expect: [{ source: flood, blockedWithinPackets: 10 }]
`);

/** pcapng blocks by hand, to write timestamps and headers no writer would. */
function block(type: number, body: Uint8Array): Uint8Array {
  const padded = new Uint8Array(Math.ceil(body.length / 4) * 4);
  padded.set(body);
  const out = new Uint8Array(12 + padded.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, type, true);
  view.setUint32(4, out.length, true);
  out.set(padded, 8);
  view.setUint32(out.length - 4, out.length, true);
  return out;
}

function pcapng(interfaceOptions: Uint8Array, packets: { timestamp: bigint; ipVersion: number }[]): Uint8Array {
  const section = new Uint8Array(16);
  new DataView(section.buffer).setUint32(0, 0x1a2b3c4d, true);
  new DataView(section.buffer).setUint16(4, 1, true);
  new DataView(section.buffer).setBigInt64(8, -1n, true);
  const iface = new Uint8Array(8 + interfaceOptions.length);
  new DataView(iface.buffer).setUint16(0, 1, true); // Ethernet
  new DataView(iface.buffer).setUint32(4, 65535, true);
  iface.set(interfaceOptions, 8);
  const payload = new TextEncoder().encode("REGISTER sip:198.51.100.10 SIP/2.0\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\n\r\n");
  const frames = packets.map(({ timestamp, ipVersion }) => {
    const frame = new Uint8Array(14 + 28 + payload.length);
    frame.set([2, 2, 2, 2, 2, 2, 4, 4, 4, 4, 4, 4, 0x08, 0x00]);
    const ip = new DataView(frame.buffer, 14);
    ip.setUint8(0, (ipVersion << 4) | 5);
    ip.setUint16(2, 28 + payload.length);
    ip.setUint8(8, 64);
    ip.setUint8(9, 17);
    frame.set([198, 18, 66, 6, 198, 51, 100, 10], 14 + 12);
    ip.setUint16(20, 5060);
    ip.setUint16(22, 5060);
    ip.setUint16(24, 8 + payload.length);
    frame.set(payload, 14 + 28);
    const body = new Uint8Array(20 + frame.length);
    const view = new DataView(body.buffer);
    view.setUint32(4, Number(timestamp >> 32n), true);
    view.setUint32(8, Number(timestamp & 0xffffffffn), true);
    view.setUint32(12, frame.length, true);
    view.setUint32(16, frame.length, true);
    body.set(frame, 20);
    return block(6, body);
  });
  const parts = [block(0x0a0d0d0a, section), block(1, iface), ...frames];
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) out.set(part, (at += part.length) - part.length);
  return out;
}

function tsOffsetOption(seconds: bigint): Uint8Array {
  const option = new Uint8Array(16);
  const view = new DataView(option.buffer);
  view.setUint16(0, 14, true);
  view.setUint16(2, 8, true);
  view.setBigInt64(4, seconds, true);
  return option; // ends with opt_endofopt (zeros)
}

/** A chain of user chains `depth` jumps below INPUT. */
function deepChains(depth: number): string {
  const lines = ["*filter", ":INPUT ACCEPT [0:0]", ...Array.from({ length: depth }, (_, i) => `:C${i} - [0:0]`), "-A INPUT -j C0"];
  for (let i = 0; i < depth - 1; i++) lines.push(`-A C${i} -j C${i + 1}`);
  return `${[...lines, "COMMIT"].join("\n")}\n`;
}

describe("what a user can cause is exit 2 with where it is, never exit 4", () => {
  it.each([
    ["a YAML alias bomb", "bomb", scenario((text) => `${text}a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n`), /bomb\.yaml: too many YAML aliases/],
    ["an alias to no anchor", "alias", scenario((text) => text.replace("name: s", "name: *nowhere")), /alias\.yaml: Unresolved alias .*define the anchor/],
    ["a word where an address goes", "word", scenario((text) => text.replace("198.18.66.6", "foo")), /word\.yaml:6: hosts\.scanner\.addresses\[0\]: expected an IPv4 address such as 198\.18\.0\.10 or an IPv6 address such as 2001:db8:bad::1; got "foo"/],
    ["NaN", "nan", scenario((text) => text.replace("durationSeconds: 10\n", "durationSeconds: .nan\n")), /nan\.yaml:3: durationSeconds: .*; got NaN/],
    ["Infinity", "inf", scenario((text) => text.replace("ratePps: 5", "ratePps: .inf")), /inf\.yaml:8: traffic\[0\]\.ratePps: .*; got Infinity/],
  ])("a scenario with %s", async (_what, name, text, message) => {
    const { code, stderr } = await run("simulate", "--scenario", file(`${name}.yaml`, text));
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/bug in slamlab|\n\s+at /);
  });

  it("a jump chain deeper than nf_tables takes is refused at the line iptables-nft-restore names; 15 deep loads", async () => {
    const refused = await run("firewall", "check", file("deep.rules", deepChains(10_000)));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/deep\.rules: line 10018: the jump to C15 is 16 chains deep; nf_tables \(iptables-nft\) refuses more than 15/);
    expect((await run("firewall", "check", file("fifteen.rules", deepChains(15)))).code).toBe(0);
  });

  it("a ruleset's sets: firewall check --ipset reads them; a set no file creates, or a bad ipset line, is exit 2 with the file and line", async () => {
    const rules = file("sets.rules", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p udp -m set --match-set f2b-asterisk src -j DROP\nCOMMIT\n");
    const sets = file("sets.ipset", "create f2b-asterisk hash:ip family inet hashsize 1024 maxelem 65536 timeout 600\nadd f2b-asterisk 198.18.66.1 timeout 300\n");
    const checked = await run("firewall", "check", rules, "--ipset", sets);
    expect(checked.code, checked.stderr).toBe(0);
    expect(checked.stdout).toMatch(/sets\.ipset: 1 sets\n[\s\S]*the model engine can run this ruleset/);
    const missing = await run("firewall", "check", rules);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/sets\.rules: line 3: set f2b-asterisk does not exist .*--ipset FILE/);
    const bad = await run("firewall", "check", rules, "--ipset", file("bad.ipset", "create f2b-asterisk hash:ip timeout 600\nadd f2b-asterisk 198.18.66.x\n"));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bad\.ipset: line 2: set f2b-asterisk \(hash:ip\): "198\.18\.66\.x" is not an IPv4 address/);
    expect(bad.stderr).not.toMatch(/bug in slamlab/);
  });

  it("firewall check lists every rule the model cannot run at once, by file and line, geoip with what to do instead", async () => {
    const rules = file(
      "many.rules",
      [
        "*nat",
        ":PREROUTING ACCEPT [0:0]",
        ":POSTROUTING ACCEPT [0:0]",
        "-A POSTROUTING -o eth0 -j SNAT --to-source 203.0.113.1-203.0.113.5",
        "COMMIT",
        "*filter",
        ":INPUT DROP [0:0]",
        "-A INPUT -m geoip --src-cc CN -j DROP",
        "-A INPUT -p udp --dport 5060 -m recent --name X --bogus -j DROP",
        "-A INPUT -p udp -m mac --mac-source 00:11:22:33:44:55 -j REJECT",
        "-A INPUT -j NOSUCHCHAIN",
        "-A INPUT -p udp -m hashlimit --hashlimit-above 5/sec -j DROP",
        "-A INPUT -p udp --dport 5060 -j ACCEPT",
        "COMMIT",
        "",
      ].join("\n"),
    );
    const { code, stderr } = await run("firewall", "check", rules);
    expect(code).toBe(2);
    expect(stderr).toMatch(/many\.rules: 6 rules the model engine cannot run as written:/);
    const lines = [...stderr.matchAll(/many\.rules: line (\d+): /g)].map((match) => Number(match[1]));
    expect(lines).toEqual([4, 8, 9, 10, 11, 12]);
    expect(stderr).toMatch(/line 8: -m geoip is not modelled: slamlab has no country database.*ipset hash:net/);
    expect(stderr).not.toMatch(/bug in slamlab/);
  });

  it("a match error in a ruleset names the file as well as the line", async () => {
    const { code, stderr } = await run("firewall", "check", file("hashlimit.rules", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m hashlimit --hashlimit-above 5/sec -j DROP\nCOMMIT\n"));
    expect(code).toBe(2);
    expect(stderr).toMatch(/hashlimit\.rules: line 3: -m hashlimit/);
  });

  it("tune merge of a results file with a setting of null names the file and the field", async () => {
    const results = file("results.json", JSON.stringify({ format: "slamlab-tune/1", scenarios: ["a"], shard: "1/1", results: [{ setting: null }] }));
    const { code, stderr } = await run("tune", "merge", results, "--out", join(work, "merged"));
    expect(code).toBe(2);
    expect(stderr).toMatch(/results\.json: not a results\.json that tune wrote:\n\s+results\[0\]\.setting: /);
  });

  it("capture inspect of a folder says so", async () => {
    const { code, stderr } = await run("capture", "inspect", work);
    expect(code).toBe(2);
    expect(stderr).toMatch(/: is a directory/);
  });

  it.each([
    ["a timestamp of 2^64-1", pcapng(new Uint8Array(0), [{ timestamp: 2n ** 64n - 1n, ipVersion: 4 }])],
    ["an if_tsoffset of +2^62 s", pcapng(tsOffsetOption(2n ** 62n), [{ timestamp: 10n ** 15n, ipVersion: 4 }])],
    ["an if_tsoffset of -2^62 s", pcapng(tsOffsetOption(-(2n ** 62n)), [{ timestamp: 10n ** 15n, ipVersion: 4 }])],
  ])("capture inspect reads a pcapng with %s and prints the time as seconds", async (_what, bytes) => {
    const { code, stdout, stderr } = await run("capture", "inspect", file("clock.pcapng", bytes));
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/from -?\d+ s after 1970 \(outside the calendar/);
  });

  it("an IPv4 header of version 12 is a counted skip in inspect and replay, not the end of the run", async () => {
    const capture = file("v12.pcapng", pcapng(new Uint8Array(0), [{ timestamp: 10n ** 15n, ipVersion: 4 }, { timestamp: 10n ** 15n + 1000n, ipVersion: 12 }, { timestamp: 10n ** 15n + 2000n, ipVersion: 4 }]));
    const inspected = await run("capture", "inspect", capture);
    expect(inspected.code).toBe(0);
    expect(inspected.stdout).toMatch(/IPv4 2, .*skipped: 1 bad IP header/);
    const replay = file(
      "replay.yaml",
      scenario((text) => text.replace("kind: register-flood, host: scanner, ratePps: 5, durationSeconds: 10", "kind: replay, host: scanner, file: v12.pcapng, pbxAddress: 198.51.100.10")),
    );
    const replayed = await run("simulate", "--scenario", replay);
    expect([0, 1]).toContain(replayed.code);
    expect(replayed.stdout).toMatch(/flood\s+1\s+2\s/);
  });
});
