import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateNftScript } from "../../src/firewall/generate-nft-script.js";
import { resolvePolicy } from "../../src/firewall/builtin-policies.js";
import { kernelOracleHere } from "../helpers/route-oracle.js";

/**
 * The nft installer as an admin runs it, in a throwaway network namespace
 * with a table of the host's own beside it: what it loads, what it keeps on
 * a rerun, what it refuses, and that it touches nothing else.
 */
const required = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
const nftHere = kernelOracleHere && spawnSync("nft", ["--version"]).status === 0;
if (!nftHere && !required) console.log("skipping the nft installer checks: they need root, unshare and nft");

const work = mkdtempSync(join(tmpdir(), "slamlab-nft-script-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const script = join(work, "install.sh");
writeFileSync(script, generateNftScript(resolvePolicy("strict", "test").policy, { pbxAddress: "198.51.100.10" }));
const sites = join(work, "sites");
writeFileSync(sites, "198.18.10.0/24\n# the branch\n203.0.113.5\n");
const bad = join(work, "bad");
writeFileSync(bad, "198.18.10.0/24\n300.1.1.1\n10.0.0.1/33\n");

/** Runs `steps` in a fresh network namespace that already holds a table of the host's own. */
const inNamespace = (steps: string) =>
  spawnSync("unshare", ["--net", "bash", "-c", `set -e\nnft add table ip host_own\nnft add chain ip host_own input '{ type filter hook input priority 10; policy drop; }'\nnft add rule ip host_own input ip saddr 10.9.9.9 accept\n${steps}`], { encoding: "utf8", timeout: 60_000 });

describe.runIf(nftHere || required)("the nft installer script (firewall generate --format nft-script)", () => {
  it("is valid bash", () => {
    expect(spawnSync("bash", ["-n", script]).status).toBe(0);
  });

  it("loads its table with the trusted sites, keeps the host's own table and policy, and a rerun keeps its blocks", () => {
    const ran = inNamespace(
      [
        `ALLOW_SITES=${sites} bash ${script}`,
        "nft add element inet slamlab blocked '{ 198.18.66.6, 198.18.66.7 timeout 30s }'",
        `ALLOW_SITES=${sites} bash ${script}`,
        "echo '== blocked'; nft list set inet slamlab blocked",
        "echo '== sites'; nft list set inet slamlab allowed_sites",
        "echo '== host'; nft list table ip host_own",
      ].join("\n"),
    );
    expect(ran.status, ran.stderr).toBe(0);
    expect(ran.stdout).toMatch(/loaded for 198\.51\.100\.10 \(table inet slamlab; 2 trusted site\(s\)/);
    const [, blocked, trusted, host] = ran.stdout.split(/^== \w+$/m);
    expect(blocked).toMatch(/198\.18\.66\.6 timeout 4m\d+s\d*m?s? expires/);
    expect(blocked).toMatch(/198\.18\.66\.7 timeout 2\ds/);
    expect(trusted).toMatch(/elements = \{ 198\.18\.10\.0\/24, 203\.0\.113\.5 \}/);
    expect(host).toMatch(/policy drop;[\s\S]*ip saddr 10\.9\.9\.9 accept/);
  });

  it("with the PBX's IPv6 address, a rerun keeps the /64s it blocked too", () => {
    const dualStack = join(work, "install6.sh");
    writeFileSync(dualStack, generateNftScript(resolvePolicy("strict", "test").policy, { pbxAddress: "198.51.100.10", pbx6Address: "2001:db8::10" }));
    const ran = inNamespace(
      [
        `ALLOW_SITES= bash ${dualStack}`,
        "nft add element inet slamlab blocked6 '{ 2001:db8:66:1::, 2001:db8:66:2:: timeout 30s }'",
        "nft add element inet slamlab long_blocked6 '{ 2001:db8:99:1:: }'",
        `ALLOW_SITES= bash ${dualStack}`,
        "echo '== blocked6'; nft list set inet slamlab blocked6",
        "echo '== long6'; nft list set inet slamlab long_blocked6",
      ].join("\n"),
    );
    expect(ran.status, ran.stderr).toBe(0);
    expect(ran.stdout).toMatch(/loaded for 198\.51\.100\.10 and 2001:db8::10 \(table inet slamlab/);
    const [, blocked, long] = ran.stdout.split(/^== \w+$/m);
    expect(blocked).toMatch(/2001:db8:66:1:: timeout 4m\d+s\d*m?s? expires/);
    expect(blocked).toMatch(/2001:db8:66:2:: timeout 2\ds/);
    expect(long).toMatch(/2001:db8:99:1:: timeout 2[23]h/);
  });

  it("refuses a bad allow-sites file, naming each bad line, and changes nothing", () => {
    const ran = inNamespace(`ALLOW_SITES=${sites} bash ${script} >/dev/null\nbefore=$(nft list ruleset)\nALLOW_SITES=${bad} bash ${script} && exit 9\n[ "$before" = "$(nft list ruleset)" ] && echo unchanged`);
    expect(ran.stderr).toMatch(new RegExp(`${bad}:2: "300\\.1\\.1\\.1" is not one IPv4 address or CIDR`));
    expect(ran.stderr).toMatch(new RegExp(`${bad}:3: "10\\.0\\.0\\.1/33"`));
    expect(ran.stderr).toMatch(/2 bad line\(s\); nothing was changed/);
    expect(ran.stdout.trim()).toBe("unchanged");
  });

  it("--dry-run shows the table it would load and changes nothing", () => {
    const ran = inNamespace(`before=$(nft list ruleset)\nALLOW_SITES= bash ${script} --dry-run\n[ "$before" = "$(nft list ruleset)" ] && echo unchanged`);
    expect(ran.status, ran.stderr).toBe(0);
    expect(ran.stdout).toMatch(/dry run, nothing was changed[\s\S]*\(no table inet slamlab yet\)[\s\S]*delete table inet slamlab[\s\S]*unchanged\s*$/);
  });
});
