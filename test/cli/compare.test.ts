import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/run-cli.js";
import { scratchDirectory } from "../helpers/scratch-directory.js";

const work = scratchDirectory("compare");

interface Summary {
  defence: string;
  passwordsFound: number;
  metrics: { attackDelivered: number; attackSent: number; legitRegistrationsLost: number; legitAgents: number };
}

describe("slamlab compare", () => {
  it("runs the weak-password office under each defence: the kernel's limit and the responsive firewall stop the cracker before the 20th word, Asterisk alone does not", async () => {
    const out = join(work, "weak");
    const result = await runCli("compare", "--scenarios", "examples/weak-password/office.yaml,examples/weak-password/third-word.yaml", "--out", out);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^slamlab compare: 2 scenarios under 5 defences on the model engine/);
    expect(result.stdout).toMatch(/\nweak-password\n {2}defence +passwords found +calls reached +attack reaching the PBX/);
    expect(result.stdout).toMatch(/\nbest: (kernel|responsive): 1 password found, every phone registered, /);
    const report = JSON.parse(readFileSync(join(out, "compare.json"), "utf8")) as { format: string; runs: Array<Summary & { scenario: string }>; summaries: Summary[] };
    expect(report.format).toBe("slamlab-compare/1");
    const run = (scenario: string, defence: string) => report.runs.find((entry) => entry.scenario === scenario && entry.defence === defence)!;
    expect(run("weak-password", "kernel").passwordsFound).toBe(0);
    expect(run("weak-password", "responsive").passwordsFound).toBe(0);
    expect(run("weak-password", "none").passwordsFound).toBe(1);
    // fail2ban bans the cracker a second after its 10th failed guess, still short of the 20th word.
    expect(run("weak-password", "fail2ban").passwordsFound).toBe(0);
    expect(run("weak-password", "fail2ban").metrics.attackDelivered).toBeGreaterThan(run("weak-password", "kernel").metrics.attackDelivered);
    expect(run("weak-password", "none").metrics.attackDelivered).toBe(run("weak-password", "none").metrics.attackSent);
    // Every failed guess is logged; the bare first REGISTER is only challenged, and the 20th guess succeeds.
    const unguarded = run("weak-password", "none") as unknown as { asteriskLogLines: number; metrics: { attackDelivered: number } };
    expect(unguarded.asteriskLogLines).toBe(unguarded.metrics.attackDelivered - 2);
    // A password three guesses deep falls under every defence: only a strong password helps.
    for (const defence of ["kernel", "fail2ban", "kernel+fail2ban", "responsive", "none"]) expect(run("weak-password-third-word", defence).passwordsFound).toBe(1);
    for (const summary of report.summaries) expect(summary.metrics).toMatchObject({ legitRegistrationsLost: 0, legitAgents: 100 });
    const html = readFileSync(join(out, "compare.html"), "utf8");
    expect(html).toMatch(/<div class="verdict"><strong>Best: (kernel|responsive)<\/strong>/);
    expect(html).toContain("Passwords were found under: kernel, fail2ban, kernel+fail2ban, responsive, none.");
    const panels = ["Attack requests reaching the PBX", "Passwords found and calls reaching the dialplan", "Phones that never registered", "Legitimate requests dropped"];
    expect([...html.matchAll(/data-chart="([^"]+)"/g)].map((match) => match[1])).toEqual(panels);
    expect(html.match(/<h3>/g)).toHaveLength(2);
    // The figure on its own: every panel, a bar per defence with its amount, the attack's bars as the summaries have them.
    const svg = readFileSync(join(out, "compare.svg"), "utf8");
    expect(svg).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    for (const title of panels) expect(svg).toContain(`>${title}</text>`);
    expect(svg.match(/<rect x="110"/g)).toHaveLength(4 * 5);
    for (const summary of report.summaries) expect(svg).toContain(`<title>${summary.defence}: ${summary.metrics.attackDelivered}</title>`);
  }, 120_000);

  it("an office behind one NAT address without an allowlist: phones locked out under the kernel's limit, none under no firewall", async () => {
    const out = join(work, "office");
    const result = await runCli("compare", "--scenario", "nat-office", "--variant", "no-allowlist", "--defences", "kernel,none", "--out", out);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(out, "compare.json"), "utf8")) as { summaries: Summary[] };
    const [kernel, none] = report.summaries;
    expect(kernel!.metrics.legitRegistrationsLost).toBeGreaterThan(90);
    expect(none!.metrics.legitRegistrationsLost).toBe(0);
    expect(result.stdout).toMatch(/best: none: no password found, every phone registered, 0 of 0 attack requests reached the PBX/);
  }, 60_000);

  it("refuses bad input before running anything, and leaves nothing behind", async () => {
    const out = join(work, "never");
    const cases: Array<[string[], RegExp]> = [
      [["--scenario", "register-flood", "--defences", "kernel,fail2bann"], /"fail2bann" is not a defence slamlab runs/],
      [["--scenario", "register-flood", "--scenarios", "nat-office"], /not both/],
      [["--scenarios", "nat-office", "--variant", "no-allowlist"], /--variant names a variant of the one scenario --scenario gives/],
      [["--scenario", "no-such-scenario"], /no-such-scenario/],
      [["--scenario", "register-flood", "--engine", "vm"], /unknown engine "vm"/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli("compare", ...args, "--out", out);
      expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(message);
    }
    expect(existsSync(out)).toBe(false);
  }, 60_000);
});
