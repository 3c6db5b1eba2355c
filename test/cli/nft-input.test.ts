import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/run-cli.js";
import { scratchDirectory } from "../helpers/scratch-directory.js";

const work = scratchDirectory("nft-input");
const file = (name: string, content: string) => {
  const path = join(work, name);
  writeFileSync(path, content);
  return path;
};

describe("nftables rulesets at the command line", () => {
  it("firewall check lists every construct the model cannot run, each with its file and line, and exits 2", async () => {
    const path = file(
      "many.nft",
      [
        "table inet filter {",
        "  map ports { type inet_service : counter; }",
        "  chain input {",
        "    type filter hook input priority filter; policy drop;",
        "    tcp option mptcp subtype 1 accept",
        "    udp dport 5060 ip checksum 0 drop",
        "    ip saddr 10.0.0.1 accept",
        "    meta skuid 0 accept",
        "  }",
        "}",
        "table bridge edge { }",
        "",
      ].join("\n"),
    );
    const { code, stderr } = await runCli("firewall", "check", path);
    expect(code).toBe(2);
    expect(stderr).toMatch(/many\.nft: 5 constructs the model engine cannot run as written:/);
    expect([...stderr.matchAll(/many\.nft: line (\d+): /g)].map((match) => Number(match[1]))).toEqual([2, 5, 6, 8, 11]);
    expect(stderr).toMatch(/line 6: ip checksum is not modelled/);
    expect(stderr).not.toMatch(/bug in slamlab/);
  });

  it("firewall check names a map used as what it is not: a set for vmap, keys of another type, an element without its data", async () => {
    const path = file(
      "maps.nft",
      [
        "table inet filter {",
        "  set allowed { type ipv4_addr; elements = { 198.18.1.1 } }",
        "  map ports { type inet_service : verdict; elements = { 5060 : accept } }",
        "  map marks { type ipv4_addr : mark; elements = { 198.18.1.1 } }",
        "  chain input {",
        "    type filter hook input priority filter; policy accept;",
        "    ip saddr vmap @allowed",
        "    ip saddr vmap @ports",
        "    udp dport vmap @ports",
        "  }",
        "}",
        "",
      ].join("\n"),
    );
    const { code, stderr } = await runCli("firewall", "check", path);
    expect(code).toBe(2);
    expect(stderr).toMatch(/line 4: map marks: element "198\.18\.1\.1": a map's element is KEY : DATA/);
    expect(stderr).toMatch(/line 7: vmap @allowed: allowed is a set, not a map/);
    expect(stderr).toMatch(/line 8: vmap @ports: the map's keys are inet_service, the field is ipv4_addr/);
    expect(stderr).not.toMatch(/line 9/);
  });

  it("firewall check takes named counters and counts into them by name, and names a counter the table does not declare", async () => {
    const ruleset = (declared: string) =>
      [
        "table inet filter {",
        `  counter ${declared} {`,
        '    comment "SIP packets dropped"',
        "  }",
        "  chain input {",
        "    type filter hook input priority filter; policy accept;",
        '    udp dport 5060 counter name "sip-dropped" drop',
        "  }",
        "}",
        "",
      ].join("\n");
    const good = await runCli("firewall", "check", file("counters.nft", ruleset("sip-dropped")));
    expect(good.code).toBe(0);
    const bad = await runCli("firewall", "check", file("typo.nft", ruleset("sip-drops")));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/typo\.nft: line 7: counter name sip-dropped: no counter sip-dropped in this table/);
  });

  it("names a host name where an address belongs: nft resolves it when it loads the ruleset, the model asks for the addresses", async () => {
    const path = file("names.nft", ["define NTP = { time1.example.net, 192.0.2.123 }", "table ip filter {", "  chain input {", "    type filter hook input priority 0; policy accept;", "    ip saddr $NTP udp sport ntp accept", "  }", "}", ""].join("\n"));
    const { code, stderr } = await runCli("firewall", "check", path);
    expect(code).toBe(2);
    expect(stderr).toMatch(/names\.nft: line 5: "time1\.example\.net" is not an IPv4 address, prefix or range: it is a host name, which nft resolves when it loads the ruleset; write the addresses it resolves to/);
  });

  it("a syntax error names the file and line", async () => {
    const { code, stderr } = await runCli("firewall", "check", file("open.nft", 'table inet filter {\n  chain input {\n    iifname "lo accept\n  }\n}\n'));
    expect(code).toBe(2);
    expect(stderr).toMatch(/open\.nft: line 3: a string is not closed/);
  });

  it("firewall check describes a ruleset it can run", async () => {
    const { code, stdout } = await runCli("firewall", "check", "examples/nftables/office.nft");
    expect(code).toBe(0);
    expect(stdout).toMatch(/table inet filter: 1 chains, 4 rules, 3 sets; base chains input \(input 0, policy accept\)/);
  });

  it("the nftables example runs on the model engine and its expectations hold", async () => {
    const { code, stdout } = await runCli("simulate", "--scenario", "examples/nftables/office.yaml");
    expect(code, stdout).toBe(0);
    // The slammers rule drops svcrack until it stops, 10 s after its last answer (sipvicious's --maximumtime).
    expect(stdout).toMatch(/inet filter input:2\s+199/);
    expect(stdout).toMatch(/PASS {2}nftables-office: 4 of 4 expectations met/);
  });

  it("--firewall-format nft writes a built-in's policy as nft rules, and its expectations hold", async () => {
    const { code, stdout } = await runCli("simulate", "nat-office", "--firewall-format", "nft");
    expect(code, stdout).toBe(0);
    expect(stdout).toMatch(/PASS {2}nat-office: 2 of 2 expectations met/);
  });

  it("--firewall-format nft: distributed-scan's botnet is blocked, since an nft set holds 65,535 sources where xt_recent's table held 100", async () => {
    const { code, stdout } = await runCli("simulate", "distributed-scan", "--firewall-format", "nft");
    expect(code).toBe(1);
    expect(stdout).toMatch(/inet slamlab slam_block:2\s+150/);
  });

  it("--firewall-format on a scenario that runs a ruleset file is refused", async () => {
    const { code, stderr } = await runCli("simulate", "fail2ban-ipset", "--firewall-format", "nft");
    expect(code).toBe(2);
    expect(stderr).toMatch(/runs a ruleset file, whose form is what it holds/);
  });
});
