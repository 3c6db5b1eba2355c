import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fillTemplate, parseRuleParam, rulesetTemplate } from "../../src/tune/ruleset-template.js";
import { kernelOracleHere } from "../helpers/route-oracle.js";
import { runCli } from "../helpers/run-cli.js";
import { scratchDirectory } from "../helpers/scratch-directory.js";

/**
 * tune over nftables: an admin's own nft ruleset swept by its rule and set
 * values, and the generated policy in its nft form (nft-meter) beside the
 * iptables matchers on the same scenarios.
 */
const work = scratchDirectory("nft-tune");
const required = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
const nftHere = kernelOracleHere && spawnSync("nft", ["--version"]).status === 0;
if (!nftHere && !required) console.log("skipping nft -c checks of the written rulesets: they need root, unshare and nft");

/** Whether the real nft accepts a ruleset (checked only, in a throwaway network namespace). */
function nftAccepts(text: string): { status: number | null; stderr: string } {
  return spawnSync("unshare", ["--net", "nft", "-c", "-f", "-"], { input: text, encoding: "utf8" });
}

const admin = [
  "#!/usr/sbin/nft -f",
  "# counts REGISTERs per source; the comment's \"limit rate 99/minute\" is not a value to sweep",
  "flush ruleset",
  "",
  "table inet filter {",
  "\tset register_rate {",
  "\t\ttype ipv4_addr",
  "\t\tflags dynamic,timeout",
  "\t\ttimeout 1m",
  "\t}",
  "",
  "\tset slammers {",
  "\t\ttype ipv4_addr",
  "\t\tsize 4096",
  "\t\tflags dynamic,timeout",
  "\t\ttimeout 10m",
  "\t\telements = { 198.18.99.1 timeout 5m expires 4m }",
  "\t}",
  "",
  "\tchain input {",
  "\t\ttype filter hook input priority filter; policy accept;",
  '\t\tip saddr @slammers counter drop comment "limit rate 99/minute burst 99 packets"',
  "\t\tudp dport 5060 @th,64,64 0x5245474953544552 update @register_rate { ip saddr limit rate over 20/minute burst 20 packets } add @slammers { ip saddr timeout 2m } counter drop",
  "\t}",
  "}",
  "",
].join("\n");

describe("tuning an admin's nftables ruleset", () => {
  it("names a rule's limit, burst and timeout, or a set's timeout and size, and rewrites only those characters", () => {
    const params = ["input:2 --rate=5..40", "filter input:2 --burst=3,30"].map((text) => parseRuleParam(text)!);
    const template = rulesetTemplate("admin.nft", admin, params);
    expect(template.form).toBe("nft");
    expect(template.slots.map((slot) => [slot.label, slot.line, slot.current])).toEqual([
      ["input:2 --rate", 23, 20],
      ["filter input:2 --burst", 23, 20],
    ]);
    // Both values on one line: each edit keeps the other's place.
    const filled = fillTemplate(template, [7, 30]);
    expect(filled).toBe(admin.replace("over 20/minute burst 20 packets", "over 7/minute burst 30 packets"));

    const timeouts = rulesetTemplate("admin.nft", admin, ["@slammers --timeout=30..900", "input:2 --timeout=60,600"].map((text) => parseRuleParam(text)!));
    expect(timeouts.slots.map((slot) => [slot.line, slot.current])).toEqual([
      [16, 600],
      [23, 120],
    ]);
    // Durations are written as nft prints them; the element's own timeout in the set is not the set's.
    expect(fillTemplate(timeouts, [90, 3600])).toBe(admin.replace("\t\ttimeout 10m", "\t\ttimeout 1m30s").replace("ip saddr timeout 2m", "ip saddr timeout 1h"));
    const size = rulesetTemplate("admin.nft", admin, [parseRuleParam("inet filter @slammers --size=1024,65535")!]);
    expect(fillTemplate(size, [65535])).toBe(admin.replace("size 4096", "size 65535"));
  });

  it("says what is wrong with a value it cannot sweep", () => {
    const template = (param: string) => () => rulesetTemplate("admin.nft", admin, [parseRuleParam(param)!]);
    expect(template("input:1 --rate=5..40")).toThrow(/admin\.nft: line 22 has no limit rate N\/unit to sweep/);
    expect(template("input:3 --rate=5..40")).toThrow(/chain input of admin\.nft has 2 rules/);
    expect(template("output:1 --rate=5..40")).toThrow(/admin\.nft has no chain output/);
    expect(template("@register_rate --size=5..40")).toThrow(/set register_rate \(admin\.nft: line 6\) declares no size to sweep; write one in it/);
    expect(template("@nope --timeout=5..40")).toThrow(/admin\.nft declares no set nope/);
    expect(template("input:2 --hitcount=5..40")).toThrow(/an nft rule's values to sweep are --rate, --burst, --timeout/);
    const twoTables = `${admin}table ip other {\n\tchain input {\n\t\ttype filter hook input priority 10; policy accept;\n\t}\n}\n`;
    expect(() => rulesetTemplate("two.nft", twoTables, [parseRuleParam("input:2 --rate=5..40")!])).toThrow(/tables inet filter and ip other of two\.nft both have a chain input; name it with its table: 'inet filter input:INDEX'/);
  });

  it("sweeps it over the scenarios, and --write-policy gives his ruleset back with the recommended values", async () => {
    const rules = join(work, "admin.nft");
    writeFileSync(rules, admin);
    const tuned = join(work, "tuned.nft");
    const result = await runCli("tune", "--scenarios", "register-flood,broken-phone", "--ruleset", rules, "--param", "input:2 --rate=2..50:12", "--param", "@slammers --timeout=60,600", "--workers", "1", "--out", join(work, "out"), "--write-policy", tuned);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^10 settings over 2 scenario runs/m);
    const recommended = /recommended: input:2 --rate=(\d+), @slammers --timeout=(\d+):/.exec(result.stdout);
    expect(recommended, result.stdout).not.toBeNull();
    const [rate, timeout] = [Number(recommended![1]), Number(recommended![2])];
    const written = readFileSync(tuned, "utf8");
    const lines = written.split("\n");
    // The shebang stays first, so the file still runs as a script.
    expect(lines[0]).toBe("#!/usr/sbin/nft -f");
    expect(lines[1]).toMatch(new RegExp(`^# slamlab tune: input:2 --rate=${rate} \\(was 20\\), @slammers --timeout=${timeout} \\(was 600\\): `));
    expect([lines[0], ...lines.slice(2)].join("\n")).toBe(admin.replace("over 20/minute", `over ${rate}/minute`).replace("\t\ttimeout 10m", `\t\ttimeout ${timeout === 60 ? "1m" : "10m"}`));
    expect(readFileSync(rules, "utf8")).toBe(admin);
    if (nftHere) expect(nftAccepts(written).status).toBe(0);
    // A rate of 0 is not a limit nft takes: refused before the sweep.
    const zero = await runCli("tune", "--scenarios", "register-flood", "--ruleset", rules, "--param", "input:2 --rate=0..5", "--out", join(work, "out0"));
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/0 is not an integer in 1\.\./);
  }, 120_000);
});

describe("tuning a policy as nftables beside iptables", () => {
  it("matcher=nft-meter runs the policy as nft rules; the summary sets each matcher's best side by side, and a .nft file gets the nft one", async () => {
    const tuned = join(work, "policy.nft");
    const result = await runCli("tune", "--scenarios", "register-flood,broken-phone", "--param", "matcher=recent,nft-meter", "--param", "hits=4,12", "--param", "seconds=30", "--workers", "1", "--out", join(work, "meter"), "--write-policy", tuned);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/Best setting of each matcher:\n.*\n {2}recent hits=\d+ seconds=30 .*\n {2}nft-meter hits=\d+ seconds=30 /);
    const report = JSON.parse(readFileSync(join(work, "meter", "results.json"), "utf8")) as { results: Array<{ setting: { matcher: string; hits: number }; byScenario: Record<string, { maxPacketsToBlock: number | null }> }> };
    expect(report.results.map((entry) => entry.setting.matcher).sort()).toEqual(["nft-meter", "nft-meter", "recent", "recent"]);
    // The same budget, two defences: xt_recent's window blocks the flood at its 12th REGISTER; nft's bucket refills while it floods.
    const blockedAt = (matcher: string) => report.results.find((entry) => entry.setting.matcher === matcher && entry.setting.hits === 12)!.byScenario["register-flood"]!.maxPacketsToBlock;
    expect(blockedAt("recent")).toBe(12);
    expect(blockedAt("nft-meter")).toBeGreaterThan(12);
    const written = readFileSync(tuned, "utf8");
    expect(written).toMatch(/^# slamlab tune: nft-meter hits=\d+ seconds=30: /);
    expect(written).toMatch(/update @counted \{ ip saddr limit rate over \d+\/minute burst \d+ packets \} jump slam_block/);
    if (nftHere) expect(nftAccepts(written).status).toBe(0);

    // A file of one form with no setting of that form swept: refused before the sweep.
    const noNft = await runCli("tune", "--scenarios", "register-flood", "--param", "hits=4", "--param", "seconds=30", "--out", join(work, "none"), "--write-policy", join(work, "x.nft"));
    expect(noNft.code).toBe(2);
    expect(noNft.stderr).toMatch(/an nftables table is written for an nft-meter setting; add --param matcher=nft-meter/);
    const noIptables = await runCli("tune", "--scenarios", "register-flood", "--param", "matcher=nft-meter", "--param", "hits=4", "--param", "seconds=30", "--out", join(work, "none"), "--write-policy", join(work, "x.rules"));
    expect(noIptables.code).toBe(2);
    expect(noIptables.stderr).toMatch(/every swept setting is nft-meter, an nftables limit; name a \.nft file/);
  }, 120_000);
});
