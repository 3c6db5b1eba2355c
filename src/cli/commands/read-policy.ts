import { existsSync } from "node:fs";
import { builtinPolicies, resolvePolicy } from "../../firewall/builtin-policies.js";
import { yamlValueProblem } from "../../firewall/describe-issues.js";
import { PolicyError } from "../../firewall/policy-error.js";
import { readTextInput } from "../../input/read-text-input.js";

/** A policy file (YAML or JSON, the fields of a scenario's firewall.policy) or a built-in name; the YAML parser is loaded only for a file. */
export async function readPolicy(ref: string) {
  if (!existsSync(ref)) {
    if (ref in builtinPolicies) return resolvePolicy(ref, "--policy");
    throw new PolicyError("POLICY_UNKNOWN", `--policy ${ref}: no such file and no built-in policy of that name; built-in policies are ${Object.keys(builtinPolicies).join(", ")}`);
  }
  const { parseDocument } = await import("yaml");
  const yaml = parseDocument(readTextInput(ref, "a policy file (YAML or JSON policy fields) or a built-in policy name"));
  if (yaml.errors.length) throw new PolicyError("POLICY_SYNTAX", `${ref}: invalid YAML: ${yaml.errors[0]!.message.split("\n")[0]}`);
  let fields: unknown;
  try {
    fields = yaml.toJS({ maxAliasCount: 1000 }) ?? {};
  } catch (error) {
    throw new PolicyError("POLICY_SYNTAX", `${ref}: invalid YAML: ${yamlValueProblem(error)}`);
  }
  if (typeof fields !== "object" || Array.isArray(fields)) throw new PolicyError("POLICY_INVALID", `${ref}: a policy file holds policy fields (placement, matcher, allowSites, ...)`);
  return resolvePolicy(fields as Record<string, unknown>, ref);
}

