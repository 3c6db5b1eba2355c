import { describeIssues } from "./describe-issues.js";
import { PolicyError } from "./policy-error.js";
import { policySchema, type Policy } from "./policy.js";

/**
 * The schema plus the rules that span fields, with messages that name the
 * field, what the kernel accepts and what was given.
 */
export function validatePolicy(input: unknown, where: string): Policy {
  const parsed = policySchema.safeParse(input ?? {});
  if (!parsed.success) {
    throw new PolicyError("POLICY_INVALID", `${where}: invalid policy:\n  ${describeIssues(parsed.error, "policy", input).join("\n  ")}`);
  }
  const policy = parsed.data;
  const problems: string[] = [];
  if (policy.escalation.enabled) {
    if (policy.escalation.blockSeconds < policy.blockSeconds) {
      problems.push(`policy.escalation.blockSeconds: the long-term block (${policy.escalation.blockSeconds} s) must not be shorter than blockSeconds (${policy.blockSeconds} s)`);
    }
    if (policy.escalation.withinSeconds <= policy.blockSeconds) {
      problems.push(
        `policy.escalation.withinSeconds: ${policy.escalation.withinSeconds} s cannot hold ${policy.escalation.strikes} blocks of at least ${policy.blockSeconds} s each; make it longer than blockSeconds`,
      );
    }
  }
  if (new Set(policy.sip.ports).size !== policy.sip.ports.length) problems.push(`policy.sip.ports: ${JSON.stringify(policy.sip.ports)} lists a port twice`);
  const overTcp = policy.sip.transports.includes("tcp") ? policy.sip.ports.filter((port) => policy.tls?.ports.includes(port)) : [];
  if (overTcp.length) {
    problems.push(`policy.tls.ports: ${overTcp.join(", ")} is counted as SIP over TCP too (policy.sip.ports with transport tcp), so each write would count twice; give TLS its own port (PJSIP's 5061) or take tcp out of sip.transports`);
  }
  if (problems.length) throw new PolicyError("POLICY_INVALID", `${where}: invalid policy:\n  ${problems.join("\n  ")}`);
  return policy;
}
