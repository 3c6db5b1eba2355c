import { existsSync } from "node:fs";
import { readTextInput, type InputFileError } from "../input/read-text-input.js";
import { dirname, resolve } from "node:path";
import { LineCounter, parseDocument, type Document } from "yaml";
import { deepMerge, resolvePolicy } from "../firewall/builtin-policies.js";
import { describeIssues, yamlValueProblem } from "../firewall/describe-issues.js";
import { addressMappings, mapIpsetAddresses, mapRulesetAddresses } from "../firewall/address-map.js";
import { parseIpsetSave } from "../firewall/ipset.js";
import { parseRuleset } from "../firewall/parse-ruleset.js";
import { looksLikeNft, parseNftRuleset } from "../firewall/nft/parse-nft.js";
import { fail2banFirewall, stockAsteriskJail } from "./with-fail2ban.js";
import type { Fail2banDefence, FirewallSpec, Scenario } from "./scenario.js";
import { ScenarioError } from "./scenario.js";
import { scenarioSchema, type ScenarioDocument } from "./schema.js";
import { checkScenarioDocument } from "./check-scenario.js";

/** A scenario file read and validated, before a variant is chosen. */
export interface LoadedDocument {
  readonly file: string;
  readonly document: ScenarioDocument;
}

/**
 * Reads a scenario YAML: syntax errors and schema errors name the file, the
 * line, the path inside the document and what was expected.
 */
export function loadScenarioDocument(file: string): LoadedDocument {
  let text: string;
  try {
    text = readTextInput(file, "a scenario YAML file or a built-in name (slamlab scenarios lists them)");
  } catch (error) {
    throw new ScenarioError((error as InputFileError).code === "INPUT_TOO_LARGE" ? "SCENARIO_TOO_LARGE" : "SCENARIO_NOT_FOUND", (error as Error).message);
  }
  const lines = new LineCounter();
  const yaml = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (yaml.errors.length > 0) {
    const problems = yaml.errors.map((error) => {
      const position = lines.linePos(error.pos[0]);
      return `${file}:${position.line}:${position.col}: ${error.message.split("\n")[0]}`;
    });
    throw new ScenarioError("SCENARIO_SYNTAX", `invalid YAML:\n  ${problems.join("\n  ")}`);
  }
  let input: unknown;
  try {
    input = yaml.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    throw new ScenarioError("SCENARIO_SYNTAX", `invalid YAML:\n  ${file}: ${yamlValueProblem(error)}`);
  }
  const parsed = scenarioSchema.safeParse(input);
  if (!parsed.success) {
    const problems = describeIssues(parsed.error, "", input).map((problem, index) => {
      const line = lineOf(yaml, lines, parsed.error.issues[index]!.path);
      return `${file}${line ? `:${line}` : ""}: ${problem}`;
    });
    throw new ScenarioError("SCENARIO_INVALID", `invalid scenario:\n  ${problems.join("\n  ")}`);
  }
  checkScenarioDocument(parsed.data, file, (path) => lineOf(yaml, lines, path));
  return { file, document: parsed.data };
}

/** The 1-based line of the deepest node on `path` that exists. */
function lineOf(yaml: Document, lines: LineCounter, path: readonly PropertyKey[]): number | null {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = yaml.getIn(path.slice(0, depth) as unknown[], true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === "object" && node.range) return lines.linePos(node.range[0]).line;
  }
  return null;
}

export function listVariants(loaded: LoadedDocument): string[] {
  return loaded.document.variants.map((variant) => variant.name);
}

/** One variant of a scenario file, ready for an engine: policy resolved, ruleset read and parsed. */
export function loadScenario(file: string, variantName: string | null): Scenario {
  const loaded = loadScenarioDocument(file);
  const { document } = loaded;
  const variant = variantName === null ? null : document.variants.find((candidate) => candidate.name === variantName);
  if (variant === undefined) {
    const names = listVariants(loaded);
    throw new ScenarioError(
      "SCENARIO_VARIANT_UNKNOWN",
      `${file}: no variant "${variantName}"; ${names.length ? `variants are ${names.join(", ")}` : "this scenario has no variants"}`,
    );
  }
  const firewall = resolveFirewall(file, document, variant);
  const scenario: Scenario = {
    name: document.name,
    variant: variant?.name ?? null,
    description: variant?.description ? `${document.description} (${variant.description})` : document.description,
    file,
    seed: document.seed,
    durationSeconds: document.durationSeconds,
    ...(document.startsAt === undefined ? {} : { startsAt: document.startsAt }),
    firewall,
    pbx: document.pbx,
    hosts: document.hosts,
    traffic: document.traffic.map((spec, index) => (spec.kind === "replay" ? { ...spec, file: captureFile(file, spec.file, index) } : spec)),
    expect: variant?.expect ?? document.expect,
    ...(document.firewall.addressMap ? { addressMap: document.firewall.addressMap } : {}),
    ...(document.firewall.fail2ban ? { fail2ban: jailOf(document.firewall.fail2ban) } : {}),
  };
  if (scenario.fail2ban) {
    try {
      fail2banFirewall(scenario, scenario.fail2ban);
    } catch (error) {
      throw new ScenarioError("SCENARIO_INVALID", `${file}: firewall.fail2ban: ${(error as Error).message}`);
    }
  }
  return scenario;
}

function jailOf(spec: NonNullable<ScenarioDocument["firewall"]["fail2ban"]>): Fail2banDefence {
  return { maxretry: spec.maxretry, findtimeSeconds: spec.findtimeSeconds, bantimeSeconds: spec.bantimeSeconds, banDelayUs: Math.round(spec.banDelaySeconds * 1_000_000), set: stockAsteriskJail.set };
}

type Variant = ScenarioDocument["variants"][number];

/** A replay's capture, relative to the scenario file; checked here so a typo fails before the run. */
function captureFile(scenarioFile: string, captureText: string, index: number): string {
  const path = resolve(dirname(scenarioFile), captureText);
  if (!existsSync(path)) {
    throw new ScenarioError("CAPTURE_NOT_FOUND", `${scenarioFile}: traffic[${index}].file: ${captureText} does not exist (paths are relative to the scenario file)`);
  }
  return path;
}

function resolveFirewall(file: string, document: ScenarioDocument, variant: Variant | null): FirewallSpec {
  const rulesetPath = variant?.ruleset ?? (variant?.policy ? undefined : document.firewall.ruleset);
  if (rulesetPath !== undefined) {
    const where = variant?.ruleset ? `variants.${variant.name}.ruleset` : "firewall.ruleset";
    const path = resolve(dirname(file), rulesetPath);
    if (!existsSync(path)) {
      throw new ScenarioError("RULESET_NOT_FOUND", `${file}: ${where}: ${rulesetPath} does not exist (paths are relative to the scenario file)`);
    }
    let text: string;
    try {
      text = readTextInput(path, `an iptables-save file or an nftables ruleset (${file}: ${where})`);
    } catch (error) {
      throw new ScenarioError("RULESET_NOT_READABLE", (error as Error).message);
    }
    if (looksLikeNft(text)) {
      parseNftRuleset(text, path); // fails here, with the ruleset's line, rather than mid-run
      if ((variant?.ruleset6 ?? document.firewall.ruleset6) !== undefined) throw new ScenarioError("SCENARIO_INVALID", `${file}: firewall.ruleset6 is the ip6tables rules beside an iptables ruleset; ${rulesetPath} is nftables, whose tables hold IPv6's rules themselves (table inet or ip6)`);
      if (document.firewall.addressMap !== undefined) throw new ScenarioError("SCENARIO_INVALID", `${file}: firewall.addressMap rewrites iptables rulesets only; write the lab's addresses into ${rulesetPath}, or give it as iptables-save`);
      if (document.firewall.ipset !== undefined) throw new ScenarioError("SCENARIO_INVALID", `${file}: firewall.ipset loads ipsets for iptables rules; an nftables ruleset declares its sets itself (set NAME { ... elements = { ... } })`);
      return { kind: "ruleset", path, text };
    }
    parseRuleset(text, path); // fails here, with the ruleset's line, rather than mid-run
    const mappings = addressMappings(document.firewall.addressMap ?? {});
    const mapped = mapRulesetAddresses(text, mappings, path);
    text = mapped.text;
    const notes = (extra: readonly string[] = []) => (mapped.notes.length + extra.length ? { mappingNotes: [...mapped.notes, ...extra] } : {});
    const ipv6 = ipv6Rules(file, document, variant);
    const withIpv6 = ipv6 ? { ipv6 } : {};
    const ipsetPath = document.firewall.ipset;
    if (ipsetPath === undefined) return { kind: "ruleset", path, text, ...withIpv6, ...notes() };
    const ipset = resolve(dirname(file), ipsetPath);
    if (!existsSync(ipset)) throw new ScenarioError("IPSET_NOT_FOUND", `${file}: firewall.ipset: ${ipsetPath} does not exist (paths are relative to the scenario file)`);
    let ipsetText: string;
    try {
      ipsetText = readTextInput(ipset, `an ipset save file (${file}: firewall.ipset)`);
    } catch (error) {
      throw new ScenarioError("IPSET_NOT_READABLE", (error as Error).message);
    }
    parseIpsetSave(ipsetText, ipset);
    const mappedSets = mapIpsetAddresses(ipsetText, mappings, ipset);
    return { kind: "ruleset", path, text, ipset: { path: ipset, text: mappedSets.text }, ...withIpv6, ...notes(mappedSets.notes) };
  }
  const base = document.firewall.policy;
  let ref = base;
  if (variant?.policy) {
    ref = typeof base === "string" ? { extends: base, ...variant.policy } : deepMerge(base ?? {}, variant.policy);
  }
  const where = variant?.policy ? `${file}: variants.${variant.name}.policy` : `${file}: firewall.policy`;
  const { policy, policyName } = resolvePolicy(ref, where);
  return { kind: "policy", policy, policyName, ...(document.firewall.format === "nft" ? { format: "nft" as const } : {}) };
}

/** firewall.ruleset6 (or the variant's): the ip6tables-save file read and checked here, so a typo fails before the run. */
function ipv6Rules(file: string, document: ScenarioDocument, variant: Variant | null): { path: string; text: string } | undefined {
  const rulesetPath = variant?.ruleset6 ?? document.firewall.ruleset6;
  if (rulesetPath === undefined) return undefined;
  const where = variant?.ruleset6 ? `variants.${variant.name}.ruleset6` : "firewall.ruleset6";
  const path = resolve(dirname(file), rulesetPath);
  if (!existsSync(path)) throw new ScenarioError("RULESET_NOT_FOUND", `${file}: ${where}: ${rulesetPath} does not exist (paths are relative to the scenario file)`);
  let text: string;
  try {
    text = readTextInput(path, `an ip6tables-save file (${file}: ${where})`);
  } catch (error) {
    throw new ScenarioError("RULESET_NOT_READABLE", (error as Error).message);
  }
  if (looksLikeNft(text)) throw new ScenarioError("SCENARIO_INVALID", `${file}: ${where}: ${rulesetPath} is an nftables ruleset; ruleset6 takes ip6tables-save output (an nftables ruleset goes in firewall.ruleset, its inet or ip6 tables holding the IPv6 rules)`);
  parseRuleset(text, path, undefined, 6); // with the file's line, before the run
  return { path, text };
}

/** The scenario with its policy written for another loader (`--firewall-format`); a ruleset file's own form is not changed. */
export function withFirewallFormat(scenario: Scenario, format: string | undefined): Scenario {
  if (format === undefined) return scenario;
  if (format !== "iptables" && format !== "nft") throw new ScenarioError("SCENARIO_INVALID", `--firewall-format ${format}: choose iptables or nft`);
  if (scenario.firewall.kind !== "policy") throw new ScenarioError("SCENARIO_INVALID", `--firewall-format ${format}: ${scenario.file} runs a ruleset file, whose form is what it holds; the flag writes a policy's rules`);
  return { ...scenario, firewall: { ...scenario.firewall, format } };
}
