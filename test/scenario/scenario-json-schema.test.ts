import { Ajv2020 } from "ajv/dist/2020.js";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { SCENARIO_SCHEMA_FILE, scenarioJsonSchema, scenarioReference } from "../../src/scenario/scenario-json-schema.js";

const root = join(import.meta.dirname, "..", "..");
const builtins = readdirSync(join(root, "scenarios")).filter((name) => name.endsWith(".yaml"));

describe("the scenario JSON Schema and reference", () => {
  it("the shipped schema and reference page are what the loader's schema generates (regenerate: slamlab scenarios --json-schema / --reference)", () => {
    expect(JSON.parse(readFileSync(join(root, SCENARIO_SCHEMA_FILE), "utf8"))).toEqual(scenarioJsonSchema());
    expect(readFileSync(join(root, "docs", "scenario-reference.md"), "utf8")).toBe(scenarioReference());
  });

  it("documents the fields that lived only in the source (mode, intervalSeconds, extensions)", () => {
    const reference = scenarioReference();
    expect(reference).toMatch(/\| `mode` \| `"svwar"` or `"svcrack"` \| {2}\| `"svwar"` \| {2}\| svwar walks extensions/);
    expect(reference).toMatch(/\| `intervalSeconds` \| number \| {2}\| `0\.5` \| > 0, <= 604800 \| Seconds between attempts/);
    expect(reference).toMatch(/\| `extensions` \| string or list of string \|/);
  });

  const validate = new Ajv2020({ strict: false, allErrors: true }).compile(scenarioJsonSchema());

  it.each(builtins)("%s points editors at the schema and validates against it in a real JSON Schema validator (ajv)", (name) => {
    const text = readFileSync(join(root, "scenarios", name), "utf8");
    expect(text.split("\n")[0]).toBe(`# yaml-language-server: $schema=../${SCENARIO_SCHEMA_FILE}`);
    expect(validate(parse(text)), JSON.stringify(validate.errors)).toBe(true);
  });

  it("catches in the editor what the loader refuses: an unknown field, a bad kind, a rate over the limit", () => {
    const document = parse(readFileSync(join(root, "scenarios", "register-flood.yaml"), "utf8"));
    expect(validate({ ...document, colour: "red" })).toBe(false);
    expect(validate({ ...document, traffic: [{ ...document.traffic[0], kind: "teleport" }] })).toBe(false);
    expect(validate({ ...document, traffic: [{ ...document.traffic[0], ratePps: 1e9 }] })).toBe(false);
  });
});
