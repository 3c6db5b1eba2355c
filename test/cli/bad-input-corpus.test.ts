import fc from "fast-check";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/run-cli.js";
import { parse, stringify } from "yaml";
import { synthesizeCapture } from "../../src/engines/model/synthesize-capture.js";
import { builtinPolicies } from "../../src/firewall/builtin-policies.js";
import { generateRuleset } from "../../src/firewall/generate-ruleset.js";
import { validatePolicy } from "../../src/firewall/validate-policy.js";

/**
 * A corpus of bad inputs, made by fast-check from the built-in scenarios,
 * policies, generated rulesets and synthesised captures, and kept as files
 * (test/fixtures/bad-inputs) so every run feeds the same ones. Each goes
 * through the command a user would give it; none may end in exit 4 (a bug),
 * a stack trace or a hang. Regenerate with SLAMLAB_WRITE_BAD_INPUTS=1.
 */
const root = join(import.meta.dirname, "..", "..");
const corpus = join(root, "test", "fixtures", "bad-inputs");

const run = runCli;

/** The command a user would run on each kind of file, by its name. */
function commandFor(path: string): string[] {
  if (path.endsWith(".policy.yaml")) return ["firewall", "generate", "--policy", path];
  if (path.endsWith(".yaml")) return ["simulate", "--scenario", path];
  if (path.endsWith(".rules")) return ["firewall", "check", path];
  return ["capture", "inspect", path];
}

const strange = [null, "", "foo", -1, 0, 0.5, 65_536, 1e12, Number.NaN, Number.POSITIVE_INFINITY, [], {}, "198.18.999.1", "10.0.0.1", "$(reboot)", "x".repeat(3000), true, "100-99", "198.18.0.0/33"];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Every path into a parsed document, containers included. */
function pathsOf(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const here = prefix.length ? [prefix] : [];
  if (Array.isArray(value)) return [...here, ...value.flatMap((item, index) => pathsOf(item, [...prefix, index]))];
  if (value && typeof value === "object") return [...here, ...Object.entries(value).flatMap(([key, item]) => pathsOf(item, [...prefix, key]))];
  return here;
}

function mutate(document: Json, path: (string | number)[], replacement: Json | undefined): Json {
  const copy = structuredClone(document);
  let parent = copy as Record<string | number, Json>;
  for (const part of path.slice(0, -1)) parent = parent[part] as Record<string | number, Json>;
  const last = path[path.length - 1]!;
  if (replacement === undefined) {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else parent[last] = replacement;
  return copy;
}

const ruleWords = ["-m", "recent", "hashlimit", "string", "u32", "limit", "conntrack", "--ctstate", "NEW,BOGUS", "--hitcount", "99999", "--seconds", "-1", "-j", "REJECT", "--reject-with", "bogus", "LOG", "--log-level", "99", "-i", "an-interface-name-too-long", "-s", "999.1.1.1/33", "--dport", "70000", "!", '"', "-p", "sctp", "--algo", "xx", "--u32", "0>>22&0x3C@8=0x1-0x0", "-N", "-P", "INPUT", "DROP", "COMMIT", "*nat", ":FOO", "[1:2]", "--name", "--mask", "--hashlimit-htable-max", "0"];

async function writeCorpus(): Promise<void> {
  rmSync(corpus, { recursive: true, force: true });
  mkdirSync(corpus, { recursive: true });
  const candidates: { name: string; content: string | Uint8Array }[] = [];
  const scenarios = readdirSync(join(root, "scenarios")).filter((name) => name.endsWith(".yaml"));
  const documents = scenarios.map((name) => parse(readFileSync(join(root, "scenarios", name), "utf8")) as Json);
  fc.sample(fc.tuple(fc.nat(documents.length - 1), fc.nat(), fc.option(fc.constantFrom(...strange), { nil: undefined }), fc.nat(), fc.boolean()), { seed: 16, numRuns: 90 }).forEach(([which, pathSeed, value, cut, truncate], index) => {
    const document = documents[which]!;
    const paths = pathsOf(document);
    let text = stringify(mutate(document, paths[pathSeed % paths.length]!, value as Json | undefined));
    if (truncate && index % 3 === 0) text = text.slice(0, cut % text.length);
    candidates.push({ name: `scenario-${String(index).padStart(3, "0")}.yaml`, content: text });
  });
  const policies = Object.values(builtinPolicies).map((policy) => structuredClone(policy) as unknown as Json);
  fc.sample(fc.tuple(fc.nat(policies.length - 1), fc.nat(), fc.option(fc.constantFrom(...strange), { nil: undefined })), { seed: 16, numRuns: 30 }).forEach(([which, pathSeed, value], index) => {
    const policy = policies[which]!;
    const paths = pathsOf(policy);
    const mutated = paths.length ? mutate(policy, paths[pathSeed % paths.length]!, value as Json | undefined) : ({ matcher: value ?? null } as Json);
    candidates.push({ name: `policy-${String(index).padStart(3, "0")}.policy.yaml`, content: stringify(mutated) });
  });
  const rulesets = [
    ...Object.entries(builtinPolicies).map(([name, policy]) => generateRuleset(validatePolicy(policy, name), { pbxAddress: "198.51.100.10" })),
    readFileSync(join(root, "scenarios", "port-reuse-naive.rules"), "utf8"),
  ];
  fc.sample(fc.tuple(fc.nat(rulesets.length - 1), fc.nat(), fc.nat(), fc.constantFrom("insert", "delete", "replace", "drop-line", "twice"), fc.constantFrom(...ruleWords)), { seed: 16, numRuns: 60 }).forEach(([which, lineSeed, wordSeed, how, word], index) => {
    const lines = rulesets[which]!.split("\n");
    const at = lineSeed % lines.length;
    const words = lines[at]!.split(" ");
    const w = wordSeed % words.length;
    if (how === "insert") words.splice(w, 0, word);
    else if (how === "delete") words.splice(w, 1);
    else if (how === "replace") words[w] = word;
    if (how === "drop-line") lines.splice(at, 1);
    else if (how === "twice") lines.splice(at, 0, lines[at]!);
    else lines[at] = words.join(" ");
    candidates.push({ name: `ruleset-${String(index).padStart(3, "0")}.rules`, content: lines.join("\n") });
  });
  const captures = (["svwar", "svcrack", "nat-office"] as const).map((kind) => synthesizeCapture(kind, { seed: 1, count: 3, durationSeconds: 2 }).bytes);
  fc.sample(fc.tuple(fc.nat(captures.length - 1), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 8 }), fc.option(fc.nat(), { nil: undefined })), { seed: 16, numRuns: 30 }).forEach(([which, flips, cut], index) => {
    const bytes = Uint8Array.from(captures[which]!);
    for (const [offset, value] of flips) bytes[offset % bytes.length] = value;
    candidates.push({ name: `capture-${String(index).padStart(3, "0")}.pcap`, content: cut === undefined ? bytes : bytes.subarray(0, cut % bytes.length) });
  });
  // Kept only where a run is quick, so the corpus checks errors, not simulation speed.
  for (const candidate of candidates) {
    const path = join(corpus, candidate.name);
    writeFileSync(path, candidate.content);
    const started = performance.now();
    await run(...commandFor(path));
    if (performance.now() - started > 2000) rmSync(path);
  }
}

if (process.env.SLAMLAB_WRITE_BAD_INPUTS === "1") await writeCorpus();

const files = existsSync(corpus) ? readdirSync(corpus).sort() : [];

describe("the bad-input corpus (fast-check, kept as files)", () => {
  it("holds scenarios, policies, rulesets and captures", () => {
    for (const kind of ["scenario-", "policy-", "ruleset-", "capture-"]) expect(files.filter((name) => name.startsWith(kind)).length).toBeGreaterThan(10);
  });

  it.each(files)("%s: exit 0, 1 or 2, never a bug, a stack trace or a hang", async (name) => {
    const { code, stderr } = await run(...commandFor(join(corpus, name)));
    expect([0, 1, 2], stderr).toContain(code);
    expect(stderr).not.toMatch(/bug in slamlab|\n\s+at \S+ \(/);
    if (code === 2) expect(stderr).toMatch(/^slamlab: error \[[A-Z_]+\]: \S/);
  }, 20_000);
});
