import type { Scenario } from "../scenario/scenario.js";
import type { CountBound, Expectation } from "../scenario/schema.js";
import type { SourceOutcome } from "./outcome.js";

/** One checked clause of an expectation: what was wanted, what happened. */
export interface ExpectationResult {
  readonly source: string;
  /** "registered: all", "blockedWithinPackets: 10", ... */
  readonly clause: string;
  readonly because?: string;
  readonly passed: boolean;
  /** What the run did, in words ("blocked at packet 10 from 198.18.10.1"). */
  readonly actual: string;
}

const seconds = (us: number) => `${(us / 1_000_000).toFixed(2)} s`;

function withinBound(value: number, bound: CountBound): boolean {
  if (typeof bound === "number") return value === bound;
  return (bound.min === undefined || value >= bound.min) && (bound.max === undefined || value <= bound.max);
}

function describeBound(bound: CountBound): string {
  if (typeof bound === "number") return String(bound);
  if (bound.min !== undefined && bound.max !== undefined) return `${bound.min}..${bound.max}`;
  return bound.min !== undefined ? `>= ${bound.min}` : `<= ${bound.max}`;
}

/** Every clause of every expectation, checked against the outcomes. */
export function checkExpectations(scenario: Scenario, outcomes: readonly SourceOutcome[]): ExpectationResult[] {
  const bySource = new Map(outcomes.map((outcome) => [outcome.source, outcome]));
  return scenario.expect.flatMap((expectation) => {
    const outcome = bySource.get(expectation.source);
    if (!outcome) {
      return [{ source: expectation.source, clause: "source exists", passed: false, actual: `no traffic source named ${expectation.source} ran` }];
    }
    return clausesOf(expectation).map((check) => ({ source: expectation.source, ...(expectation.because ? { because: expectation.because } : {}), ...check(outcome) }));
  });
}

type Check = (outcome: SourceOutcome) => { clause: string; passed: boolean; actual: string };

function clausesOf(expectation: Expectation): Check[] {
  const checks: Check[] = [];
  const { registered, delivered, dropped, blockedWithinPackets, blockedWithinSeconds, keptBlocked, neverBlocked, passwordFound, extensionsFound, callsReached } = expectation;
  if (registered !== undefined) {
    checks.push((outcome) => {
      const actual = `${outcome.registeredAgents} of ${outcome.agents} agents registered`;
      if (registered === "all") return { clause: "registered: all", passed: outcome.agents > 0 && outcome.registeredAgents === outcome.agents, actual };
      if (registered === "none") return { clause: "registered: none", passed: outcome.registeredAgents === 0, actual };
      return { clause: `registered: ${describeBound(registered)}`, passed: withinBound(outcome.registeredAgents, registered), actual };
    });
  }
  if (delivered !== undefined) {
    checks.push((outcome) => ({ clause: `delivered: ${describeBound(delivered)}`, passed: withinBound(outcome.delivered, delivered), actual: `${outcome.delivered} of ${outcome.sent} delivered` }));
  }
  if (dropped !== undefined) {
    checks.push((outcome) => ({ clause: `dropped: ${describeBound(dropped)}`, passed: withinBound(outcome.dropped, dropped), actual: `${outcome.dropped} of ${outcome.sent} dropped` }));
  }
  if (blockedWithinPackets !== undefined) {
    checks.push((outcome) => {
      const clause = `blockedWithinPackets: ${blockedWithinPackets}`;
      // An address that never sent that many packets had no chance to reach the limit.
      const late = outcome.addresses.filter((a) => a.sent >= blockedWithinPackets && (a.packetsToBlock === null || a.packetsToBlock > blockedWithinPackets));
      const blocked = outcome.addresses.filter((a) => a.packetsToBlock !== null);
      if (blocked.length === 0) return { clause, passed: false, actual: "never blocked" };
      if (late.length > 0) {
        const worst = late[0]!;
        const what = worst.packetsToBlock === null ? `never blocked after ${worst.sent} packets` : `blocked only at packet ${worst.packetsToBlock}`;
        return { clause, passed: false, actual: `${late.length} of ${outcome.addresses.length} addresses too late; ${worst.address} ${what}` };
      }
      return { clause, passed: true, actual: `blocked at packet ${outcome.packetsToBlock}${outcome.addresses.length > 1 ? ` at the latest, on ${blocked.length} addresses` : ""}` };
    });
  }
  if (blockedWithinSeconds !== undefined) {
    checks.push((outcome) => {
      const clause = `blockedWithinSeconds: ${blockedWithinSeconds}`;
      const limitUs = blockedWithinSeconds * 1_000_000;
      const late = outcome.addresses.filter((a) => a.firstDropUs === null || a.firstDropUs - a.firstSentUs > limitUs);
      if (outcome.addresses.length === 0) return { clause, passed: false, actual: "sent nothing" };
      if (late.length > 0) {
        const worst = late[0]!;
        const what = worst.firstDropUs === null ? "never blocked" : `blocked after ${seconds(worst.firstDropUs - worst.firstSentUs)}`;
        return { clause, passed: false, actual: `${late.length} of ${outcome.addresses.length} addresses too late; ${worst.address} ${what}` };
      }
      return { clause, passed: true, actual: `blocked after ${seconds(outcome.timeToBlockUs ?? 0)}${outcome.addresses.length > 1 ? " at the latest" : ""}` };
    });
  }
  if (keptBlocked !== undefined) {
    checks.push((outcome) => {
      const blocked = outcome.addresses.filter((a) => a.firstDropUs !== null);
      const leaking = blocked.filter((a) => !a.keptBlocked);
      const isKept = blocked.length > 0 && leaking.length === 0;
      const actual =
        blocked.length === 0 ? "never blocked" : leaking.length ? `${leaking[0]!.address} got packets through after its first drop` : `every packet after the first drop was dropped (${outcome.dropped})`;
      return { clause: `keptBlocked: ${keptBlocked}`, passed: isKept === keptBlocked, actual };
    });
  }
  if (neverBlocked !== undefined) {
    checks.push((outcome) => {
      const actual = outcome.dropped === 0 ? `none of ${outcome.sent} packets dropped` : `${outcome.dropped} of ${outcome.sent} dropped, first at ${seconds(outcome.firstDropUs ?? 0)}`;
      return { clause: `neverBlocked: ${neverBlocked}`, passed: (outcome.dropped === 0) === neverBlocked, actual };
    });
  }
  if (passwordFound !== undefined) {
    checks.push((outcome) => {
      const first = outcome.passwordsFound[0];
      const actual = first ? `found the password of ${first.account} at ${seconds(first.atUs)} (${first.detail})` : "no password found";
      return { clause: `passwordFound: ${passwordFound}`, passed: (first !== undefined) === passwordFound, actual };
    });
  }
  if (extensionsFound !== undefined) {
    checks.push((outcome) => {
      const found = outcome.extensionsFound.map((find) => find.account);
      const actual = found.length ? `confirmed ${found.length} extension${found.length === 1 ? "" : "s"} (${found.slice(0, 5).join(", ")}${found.length > 5 ? ", ..." : ""})` : "confirmed no extension";
      return { clause: `extensionsFound: ${describeBound(extensionsFound)}`, passed: withinBound(found.length, extensionsFound), actual };
    });
  }
  if (callsReached !== undefined) {
    checks.push((outcome) => {
      const first = outcome.callsReached[0];
      const actual = first ? `${outcome.callsReached.length} call${outcome.callsReached.length === 1 ? "" : "s"} reached the dialplan, the first at ${seconds(first.atUs)} (${first.detail})` : "no call reached the dialplan";
      return { clause: `callsReached: ${describeBound(callsReached)}`, passed: withinBound(outcome.callsReached.length, callsReached), actual };
    });
  }
  if (checks.length === 0) checks.push(() => ({ clause: "(no clause)", passed: false, actual: "the expectation names a source but asserts nothing" }));
  return checks;
}
