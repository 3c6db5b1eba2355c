import { z } from "zod";
import { policySchema } from "../firewall/policy.js";
import { scenarioSchema } from "./schema.js";

/** Where editors find the schema: the built-in scenarios point at it with a yaml-language-server comment. */
export const SCENARIO_SCHEMA_FILE = "schema/scenario.schema.json";

type JsonSchema = {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  additionalProperties?: JsonSchema | boolean;
};

/** The JSON Schema of a scenario file as the loader reads it (inputs: defaults may be left out). */
export function scenarioJsonSchema(): object {
  return {
    ...z.toJSONSchema(scenarioSchema, { io: "input", unrepresentable: "any" }),
    $id: "https://slamlab.invalid/scenario.schema.json",
    title: "slamlab scenario",
  };
}

function typeText(schema: JsonSchema): string {
  if (schema.const !== undefined) return `\`${JSON.stringify(schema.const)}\``;
  if (schema.enum) return schema.enum.map((value) => `\`${JSON.stringify(value)}\``).join(" or ");
  const alternatives = schema.oneOf ?? schema.anyOf;
  if (alternatives) return alternatives.map(typeText).join(" or ");
  if (schema.type === "array") return `list of ${schema.items ? typeText(schema.items) : "values"}`;
  if (schema.type === "object" && schema.additionalProperties && typeof schema.additionalProperties === "object") return `map of name to ${typeText(schema.additionalProperties)}`;
  return Array.isArray(schema.type) ? schema.type.join(" or ") : (schema.type ?? "any");
}

function limits(schema: JsonSchema): string {
  const parts: string[] = [];
  if (schema.minimum !== undefined) parts.push(`>= ${schema.minimum}`);
  if (schema.exclusiveMinimum !== undefined) parts.push(`> ${schema.exclusiveMinimum}`);
  if (schema.maximum !== undefined) parts.push(`<= ${schema.maximum}`);
  if (schema.minItems !== undefined) parts.push(`at least ${schema.minItems} items`);
  if (schema.maxItems !== undefined) parts.push(`at most ${schema.maxItems} items`);
  if (schema.pattern) parts.push(`matches \`${schema.pattern.replace(/\|/g, "\\|")}\``);
  return parts.join(", ");
}

const cell = (text: string) => text.replace(/\n/g, " ").replace(/\|/g, "\\|");

/** Rows of one object's fields, descending into nested objects (a traffic kind's fields are their own table). */
function rows(schema: JsonSchema, path: string, out: string[]): void {
  for (const [key, field] of Object.entries(schema.properties ?? {})) {
    const fieldPath = path ? `${path}.${key}` : key;
    const required = schema.required?.includes(key) && field.default === undefined ? "yes" : "";
    const fallback = field.default === undefined ? "" : `\`${JSON.stringify(field.default)}\``;
    out.push(`| \`${fieldPath}\` | ${cell(typeText(field))} | ${required} | ${cell(fallback)} | ${cell(limits(field))} | ${cell(field.description ?? "")} |`);
    if (field.type === "object" && field.properties) rows(field, fieldPath, out);
    // A union of objects told apart by kind (a matcher, a logging target, a host): each kind's fields.
    for (const alternative of field.oneOf ?? field.anyOf ?? []) {
      const kind = alternative.properties?.kind?.const;
      if (alternative.properties && kind !== undefined) rows({ ...alternative, properties: Object.fromEntries(Object.entries(alternative.properties).filter(([key]) => key !== "kind")) }, `${fieldPath} (kind ${String(kind)})`, out);
    }
    if (field.type === "array" && field.items?.type === "object" && field.items.properties) rows(field.items, `${fieldPath}[]`, out);
  }
}

const HEADER = ["| field | type | required | default | limits | what it is |", "|---|---|---|---|---|---|"];

/**
 * The scenario file reference (docs/scenario-reference.md), generated from
 * the same schema the loader uses, so a field exists here exactly when the
 * loader accepts it.
 */
export function scenarioReference(): string {
  const schema = scenarioJsonSchema() as JsonSchema;
  const top: string[] = [...HEADER];
  rows({ ...schema, properties: Object.fromEntries(Object.entries(schema.properties ?? {}).filter(([key]) => key !== "traffic")) }, "", top);
  const lines = [
    "# Scenario file reference",
    "",
    `Generated from the loader's schema by \`slamlab scenarios --reference\`; the JSON Schema itself is \`${SCENARIO_SCHEMA_FILE}\` (\`slamlab scenarios --json-schema\`), which editors with the YAML language server use through the first line of every built-in scenario. Policy fields, under \`firewall.policy\` or in a \`--policy FILE\`, are at the end.`,
    "",
    "## Top level",
    "",
    ...top,
    "",
    "## Traffic sources (`traffic[]`), by `kind`",
  ];
  const traffic = schema.properties?.traffic?.items;
  for (const kind of traffic?.oneOf ?? traffic?.anyOf ?? []) {
    const table: string[] = [...HEADER];
    rows(kind, "", table);
    lines.push("", `### \`${String(kind.properties?.kind?.const ?? "?")}\``, "", ...table);
  }
  const policy = z.toJSONSchema(policySchema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  const policyRows: string[] = [...HEADER];
  rows(policy, "", policyRows);
  lines.push("", "## Policy fields (`firewall.policy`, a variant's `policy`, `firewall generate --policy FILE`)", "", "A built-in name or these fields, merged over the `default` policy (or the one named by `extends`).", "", ...policyRows);
  return `${lines.join("\n")}\n`;
}
