import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { builtinPolicies } from "../../src/firewall/builtin-policies.js";
import { generateHostRestore } from "../../src/firewall/generate-host-restore.js";
import { generateScript } from "../../src/firewall/generate-script.js";
import { validatePolicy } from "../../src/firewall/validate-policy.js";
import { scratchDirectory } from "../helpers/scratch-directory.js";

/**
 * The generated firewall as an admin loads it on a production host: real
 * iptables in a real kernel, in a network namespace of its own that already
 * holds a restrictive ruleset (policy DROP, an ssh allow, a SIP accept, a
 * chain of the admin's). Each case prints iptables-save before and after.
 */
const probe = spawnSync("unshare", ["--net", "iptables", "-S"], { encoding: "utf8" });
const canRun = probe.status === 0;
const required = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
if (!canRun && !required) console.log(`skipping the host install checks: no iptables in a network namespace here (${(probe.stderr || String(probe.error)).trim()}); they need root, unshare and iptables`);

const work = scratchDirectory("host-install");

const HOST_RULES = [
  "iptables -P INPUT DROP",
  "iptables -P FORWARD DROP",
  "iptables -A INPUT -p tcp --dport 22 -j ACCEPT",
  "iptables -A INPUT -p udp --dport 5060 -j ACCEPT",
  "iptables -N ADMIN",
  "iptables -A ADMIN -s 203.0.113.0/24 -j RETURN",
  "iptables -A INPUT -j ADMIN",
].join("\n");

function file(name: string, text: string): string {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
}

function script(policy: keyof typeof builtinPolicies, pbxAddress: string, name: string): string {
  return file(name, generateScript(validatePolicy(builtinPolicies[policy], policy), { pbxAddress }));
}

/** Runs `steps` (bash) in a fresh network namespace after the admin's own rules; SAVE prints the filter table without comments. */
function inNamespace(steps: string): { code: number; stdout: string; stderr: string } {
  const driver = `set -u\nSAVE() { iptables-save -t filter | grep -v '^#' | sed -E 's/ \\[[0-9]+:[0-9]+\\]$//'; }\n${HOST_RULES}\n${steps}\n`;
  const result = spawnSync("unshare", ["--net", "bash", "-c", driver], { encoding: "utf8" });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

const sections = (stdout: string) => stdout.split("=== ").slice(1).map((section) => section.slice(section.indexOf("\n") + 1));
const hooksIn = (table: string) => table.split("\n").filter((line) => /^-A (INPUT|FORWARD) .*-j SLAM-/.test(line));

describe.runIf(canRun || required)("the generated script on a host with its own restrictive rules", () => {
  it("keeps policies, the admin's rules and chains; puts one hook at the top of INPUT; a rerun with another --pbx replaces it and keeps the block list", () => {
    expect(canRun, "SLAMLAB_REQUIRE_DOCKER=1 but iptables cannot run in a network namespace").toBe(true);
    const first = script("strict", "198.51.100.10", "strict.sh");
    const second = script("default", "198.51.100.20", "default.sh");
    const sites = file("sites", "# office\n198.18.10.0/24\n  192.0.2.7   # roaming, with a Windows line end\r\n\n");
    const { code, stdout, stderr } = inNamespace(`
echo "=== before"; SAVE
ALLOW_SITES=${sites} bash ${first} >/dev/null || exit 10
echo "=== first"; SAVE
echo +198.18.66.6 > /proc/net/xt_recent/SIP-BLOCK
ALLOW_SITES=${sites} bash ${second} >/dev/null || exit 11
ALLOW_SITES=${sites} bash ${second} >/dev/null || exit 12
echo "=== rerun"; SAVE
echo "=== block list"; cat /proc/net/xt_recent/SIP-BLOCK`);
    expect(code, stderr).toBe(0);
    const [before, afterFirst, afterRerun, blockList] = sections(stdout) as [string, string, string, string];
    for (const table of [afterFirst, afterRerun]) {
      // Everything the admin had is still there, unchanged and in order.
      const admin = before.split("\n").filter((line) => line !== "COMMIT" && line !== "");
      const kept = table.split("\n").filter((line) => admin.includes(line));
      expect(kept).toEqual(admin);
      expect(table).toContain(":INPUT DROP\n:FORWARD DROP\n");
      expect(hooksIn(table)).toEqual(["-A INPUT -m comment --comment slamlab-hook -j SLAM-ENTRY"]);
      // The hook comes before the admin's SIP accept, so SIP is counted first.
      expect(table.indexOf("slamlab-hook")).toBeLessThan(table.indexOf("--dport 5060 -j ACCEPT"));
    }
    expect(afterFirst).toContain("-A SLAM-CHECK -s 192.0.2.7/32 -m comment --comment \"allowSites file: 192.0.2.7\" -j RETURN");
    expect(afterFirst).toContain("-d 198.51.100.10/32");
    expect(afterRerun).not.toContain("198.51.100.10");
    expect(afterRerun).toContain("-A SLAM-ENTRY -d 198.51.100.20/32");
    expect(afterRerun).not.toContain("SLAM-ESCALATE");
    expect(blockList).toContain("src=198.18.66.6");
  });

  it("removes a hook of the older generator (a jump straight to SLAM-CHECK) and prints a dry run's diff without changing anything", () => {
    const path = script("default", "198.51.100.10", "dry.sh");
    const { code, stdout, stderr } = inNamespace(`
iptables -N SLAM-CHECK
iptables -A INPUT -d 198.51.100.9/32 -p udp -m udp --dport 5060 -m comment --comment "SIP over UDP to the PBX: slamming checks" -j SLAM-CHECK
echo "=== before"; SAVE
echo "=== dry run"; ALLOW_SITES= bash ${path} --dry-run || exit 10
echo "=== after the dry run"; SAVE
ALLOW_SITES= bash ${path} >/dev/null || exit 11
echo "=== applied"; SAVE`);
    expect(code, stderr).toBe(0);
    const [before, dryRun, afterDryRun, applied] = sections(stdout) as [string, string, string, string];
    expect(afterDryRun).toBe(before);
    expect(dryRun).toMatch(/^--- live\n\+\+\+ after this script\n/m);
    expect(dryRun).toContain('--A INPUT -d 198.51.100.9/32 -p udp -m udp --dport 5060 -m comment --comment "SIP over UDP to the PBX: slamming checks" -j SLAM-CHECK');
    expect(dryRun).toContain("+-A INPUT -m comment --comment slamlab-hook -j SLAM-ENTRY");
    expect(hooksIn(applied)).toEqual(["-A INPUT -m comment --comment slamlab-hook -j SLAM-ENTRY"]);
  });

  it.each([
    ["a space inside an address", "192.0.2.1 2", 2],
    ["a leading zero (iptables reads octal)", "010.0.0.1", 2],
    ["an octet bash would take for octal", "192.168.1.08", 2],
    ["a prefix over 32", "10.0.0.0/33", 2],
    ["a shell command", "10.0.0.1; reboot", 2],
  ])("refuses the whole allowSites file for %s, naming file:line, and changes nothing", (_what, line, lineNumber) => {
    const path = script("default", "198.51.100.10", "sites-check.sh");
    const sites = file("bad-sites", `198.18.10.0/24\n${line}\n`);
    const { code, stdout, stderr } = inNamespace(`echo "=== before"; SAVE; ALLOW_SITES=${sites} bash ${path}; echo "=== exit $?"; echo "=== after"; SAVE`);
    expect(code, stderr).toBe(0);
    const [before, exit, after] = sections(stdout) as [string, string, string];
    expect(stdout).toMatch(/=== exit 1\n/);
    expect(exit).toBe("");
    expect(after).toBe(before);
    expect(stderr).toContain(`${sites}:${lineNumber}: "${line}" is not one IPv4 address or CIDR`);
    expect(stderr).toMatch(/nothing was changed/);
  });

  it("refuses a missing allowSites file, and a step the kernel refuses mid-way leaves the table as it was", () => {
    const path = script("default", "198.51.100.10", "fails.sh");
    const missing = inNamespace(`ALLOW_SITES=${join(work, "no-such-file")} bash ${path}; echo "exit $?"; SAVE | grep -c SLAM || true`);
    expect(missing.stdout).toBe("exit 1\n0\n");
    expect(missing.stderr).toMatch(/no-such-file: no such readable file; create it .* or run with ALLOW_SITES= for no trusted sites; nothing was changed/);
    // The admin jumps to a chain an earlier slamlab policy made; this policy removes that chain, which the kernel refuses.
    const strict = script("strict", "198.51.100.10", "strict-first.sh");
    const { code, stdout, stderr } = inNamespace(`
ALLOW_SITES= bash ${strict} >/dev/null || exit 10
iptables -A INPUT -j SLAM-ESCALATE
echo "=== before"; SAVE
ALLOW_SITES= bash ${path}; echo "=== exit $?"
echo "=== after"; SAVE`);
    expect(code, stderr).toBe(0);
    const [before, exit, after] = sections(stdout) as [string, string, string];
    expect(exit).toBe("");
    expect(stdout).toMatch(/=== exit 1\n/);
    expect(after).toBe(before);
    expect(stderr).toMatch(/iptables-restore --noflush refused the rules; nothing was changed/);
  });

  it("refuses to run as anyone but root, before reading anything", () => {
    const path = script("default", "198.51.100.10", "not-root.sh");
    const { stdout, stderr } = inNamespace(`setpriv --reuid=65534 --regid=65534 --clear-groups env ALLOW_SITES= bash < ${path}; echo "exit $?"`);
    expect(stdout).toBe("exit 1\n");
    expect(stderr).toMatch(/run as root: changing netfilter rules needs CAP_NET_ADMIN; nothing was changed/);
  });

  it("says what is missing when the iptables tools are not there", () => {
    const path = script("default", "198.51.100.10", "no-tools.sh");
    const { stdout, stderr } = inNamespace(`IPTABLES=/nonexistent/iptables ALLOW_SITES= bash ${path}; echo "exit $?"`);
    expect(stdout).toBe("exit 1\n");
    expect(stderr).toMatch(/\/nonexistent\/iptables is not installed .*nothing was changed/);
  });
});

describe.runIf(canRun || required)("the generated iptables-restore file on a host with its own rules", () => {
  it("loaded with --noflush twice, plus its one hook command, touches only slamlab's chains and keeps the block list", () => {
    const text = generateHostRestore(validatePolicy(builtinPolicies.default, "default"), { pbxAddress: "198.51.100.10" });
    const rules = file("host.rules", text);
    const hookCommand = /^# {3}(iptables -C INPUT .*)$/m.exec(text)?.[1];
    expect(hookCommand).toBeDefined();
    const { code, stdout, stderr } = inNamespace(`
echo "=== before"; SAVE
iptables-restore --noflush ${rules} || exit 10
${hookCommand} || exit 11
echo +198.18.66.6 > /proc/net/xt_recent/SIP-BLOCK
iptables-restore --noflush ${rules} || exit 12
${hookCommand} || exit 13
echo "=== after"; SAVE
echo "=== block list"; cat /proc/net/xt_recent/SIP-BLOCK`);
    expect(code, stderr).toBe(0);
    const [before, after, blockList] = sections(stdout) as [string, string, string];
    const admin = before.split("\n").filter((line) => line !== "COMMIT" && line !== "");
    expect(after.split("\n").filter((line) => admin.includes(line))).toEqual(admin);
    expect(hooksIn(after)).toEqual(["-A INPUT -m comment --comment slamlab-hook -j SLAM-ENTRY"]);
    expect(after.split("\n").filter((line) => line.startsWith("-A SLAM-ENTRY"))).toHaveLength(1);
    expect(blockList).toContain("src=198.18.66.6");
  });
});
