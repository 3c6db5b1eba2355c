import { describe, expect, it } from "vitest";
import { builtinCases } from "../../src/engines/fidelity-suite.js";
import { listBuiltinScenarios } from "../../src/scenario/catalogue.js";
import { loadScenario } from "../../src/scenario/load-scenario.js";
import { runCli } from "../helpers/run-cli.js";

describe("the differential suite's built-in cases", () => {
  it("with --firewall-format nft, every built-in that runs a generated policy, as nft rules and labelled so", () => {
    const plain = builtinCases();
    const nft = builtinCases("nft");
    const policies = plain.filter((entry) => loadScenario(entry.file, entry.variant).firewall.kind === "policy");
    expect(policies.length).toBeGreaterThan(5);
    expect(policies.length).toBeLessThan(plain.length);
    expect(nft.map((entry) => entry.label)).toEqual(policies.map((entry) => `${entry.label} (nft)`));
    expect(nft.every((entry) => entry.firewallFormat === "nft")).toBe(true);
    expect(plain.length).toBe(listBuiltinScenarios().reduce((sum, entry) => sum + 1 + entry.variants.length, 0));
  });

  it("refuses --firewall-format without the built-ins, before any run", async () => {
    const random = await runCli("diff", "--random", "3", "--firewall-format", "nft", "--out", "/nonexistent/never-made");
    expect(random.code).toBe(2);
    expect(random.stderr).toMatch(/--firewall-format nft writes the built-ins' policies as nft rules; give --builtins/);
    const unknown = await runCli("diff", "--builtins", "--firewall-format", "pf", "--out", "/nonexistent/never-made");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--firewall-format pf: choose iptables or nft/);
  });
});
