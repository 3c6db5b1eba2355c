import type { Scenario } from "../scenario/scenario.js";
import { ScenarioError } from "../scenario/scenario.js";
import type { TrafficSource } from "./agent.js";
import type { AgentPlacement } from "./agent-placement.js";
import { createBlfSubscriber } from "./blf-subscribe.js";
import { createBrokenPhone } from "./broken-phone.js";
import { LanAddressPlan } from "./host-addresses.js";
import { createPhones } from "./phones.js";
import { createRegisterFlood } from "./register-flood.js";
import { createRoamingUser } from "./roaming-user.js";
import { createReplaySource } from "./replay/replay-source.js";
import type { ReplayPlan } from "./replay/replay-plan.js";

/**
 * The scenario's `traffic` list as running sources; the seed reaches them
 * through AgentContext.random. Replay sources need their capture read first
 * (loadReplays), as reading is asynchronous and runs are not.
 */
export function createTrafficSources(scenario: Scenario, replays: ReadonlyMap<string, ReplayPlan> = new Map()): TrafficSource[] {
  const lan = new LanAddressPlan(scenario.hosts);
  return scenario.traffic.map((spec) => {
    const host = scenario.hosts[spec.host];
    if (!host) throw new ScenarioError("SCENARIO_INVALID", `${scenario.file}: traffic ${spec.name} uses host "${spec.host}", which is not in hosts`);
    const placement: AgentPlacement = { hostName: spec.host, host, lan, basePort: 5060 };
    switch (spec.kind) {
      case "phones":
        return createPhones(spec, scenario.pbx, placement);
      case "register-flood":
        return createRegisterFlood(spec, scenario.pbx, placement);
      case "broken-phone":
        return createBrokenPhone(spec, scenario.pbx, placement);
      case "roaming-user":
        return createRoamingUser(spec, scenario.pbx, placement);
      case "blf-subscribe":
        return createBlfSubscriber(spec, scenario.pbx, placement);
      case "replay": {
        const plan = replays.get(spec.name);
        if (!plan) throw new Error(`replay source ${spec.name} has no loaded capture: run the scenario through ModelEngine.run, which reads captures first`);
        return createReplaySource(spec, scenario.pbx, placement, plan);
      }
    }
  });
}
