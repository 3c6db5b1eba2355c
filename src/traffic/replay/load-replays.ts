import type { Scenario } from "../../scenario/scenario.js";
import { ScenarioError } from "../../scenario/scenario.js";
import { publicAddressesOf } from "../host-addresses.js";
import { loadReplay } from "./load-replay.js";
import type { ReplayPlan } from "./replay-plan.js";

/** Reads the capture of every replay source of a scenario, by source name, before a run starts. */
export async function loadReplays(scenario: Scenario): Promise<Map<string, ReplayPlan>> {
  const plans = new Map<string, ReplayPlan>();
  for (const spec of scenario.traffic) {
    if (spec.kind !== "replay") continue;
    const host = scenario.hosts[spec.host];
    if (!host) throw new ScenarioError("SCENARIO_INVALID", `${scenario.file}: traffic ${spec.name} uses host "${spec.host}", which is not in hosts`);
    const plan = await loadReplay(spec, publicAddressesOf(host));
    if (scenario.pbx.address6 === undefined && plan.clients.some((client) => client.includes(":"))) {
      throw new ScenarioError("SCENARIO_INVALID", `${scenario.file}: traffic ${spec.name}: ${spec.file} holds IPv6 SIP, which the lab PBX gets on its IPv6 address: give pbx.address6 (such as 2001:db8:100::10)`);
    }
    plans.set(spec.name, plan);
  }
  return plans;
}
