import type { Scenario } from "../scenario/scenario.js";
import { ScenarioError } from "../scenario/scenario.js";
import type { TrafficSource } from "./agent.js";
import type { AgentPlacement } from "./agent-placement.js";
import { createBlfSubscriber } from "./blf-subscribe.js";
import { createBrokenPhone } from "./broken-phone.js";
import { labMachineOf, LanAddressPlan, publicAddressesOf } from "./host-addresses.js";
import { createPhones } from "./phones.js";
import { createIax2Flood } from "./iax2-flood.js";
import { createIax2Phones } from "./iax2-phones.js";
import { createRegisterFlood } from "./register-flood.js";
import { createSippOffice } from "./sipp-office.js";
import { userSequence } from "../scenario/user-list.js";
import { isSippOffice } from "../scenario/sipp-office-tool.js";
import { createRoamingUser } from "./roaming-user.js";
import { createReplaySource } from "./replay/replay-source.js";
import { createToolTwin } from "./tool-twin.js";
import type { ReplayPlan } from "./replay/replay-plan.js";

/**
 * The scenario's `traffic` list as running sources; the seed reaches them
 * through AgentContext.random. Replay sources need their capture read first
 * (loadReplays), as reading is asynchronous and runs are not.
 */
export function createTrafficSources(
  scenario: Scenario,
  replays: ReadonlyMap<string, ReplayPlan> = new Map(),
  options: { only?: ReadonlySet<string>; tools?: "placeholders" } = {},
): TrafficSource[] {
  const lan = new LanAddressPlan(scenario.hosts);
  // Every source is made (cheap) so LAN addresses come out the same whichever subset runs;
  // a replay outside the subset is skipped, as it has no capture loaded (replays never sit behind a NAT).
  const wanted = (name: string) => !options.only || options.only.has(name);
  const placementOf = (spec: Scenario["traffic"][number]): AgentPlacement => {
    const host = scenario.hosts[spec.host];
    if (!host) throw new ScenarioError("SCENARIO_INVALID", `${scenario.file}: traffic ${spec.name} uses host "${spec.host}", which is not in hosts`);
    return { hostName: spec.host, host, lan, basePort: 5060 };
  };
  // Real tools come last: a tool's port depends on the endpoints every other source binds.
  const made = new Map<Scenario["traffic"][number], TrafficSource>();
  for (const spec of scenario.traffic) if (spec.kind !== "tool" && !(spec.kind === "replay" && !wanted(spec.name))) made.set(spec, createSource(spec, placementOf(spec)));
  const machineOf = (spec: Scenario["traffic"][number]) => labMachineOf(spec.host, scenario.hosts[spec.host]);
  const bound = new Set([...made].flatMap(([spec, source]) => source.agents.map((endpoint) => `${machineOf(spec)}:${endpoint.port}`)));
  let nextToolPort = TOOL_PORT;
  for (const spec of scenario.traffic) {
    if (spec.kind !== "tool") continue;
    // sipvicious 0.3.3 ignores -b and binds its port on every address of its machine: svcrack takes 5060, its
    // default (-P 5060), where nothing else on that machine binds it; svwar and SIPp take ports of their own.
    const port = spec.tool === "svcrack" && !bound.has(`${machineOf(spec)}:${SIP_PORT}`) ? SIP_PORT : nextToolPort++;
    bound.add(`${machineOf(spec)}:${port}`);
    made.set(spec, createSource(spec, placementOf(spec), port));
  }
  return scenario.traffic.flatMap((spec): TrafficSource[] => {
    const source = made.get(spec);
    return source && wanted(spec.name) ? [source] : [];
  });

  function createSource(spec: Scenario["traffic"][number], placement: AgentPlacement, toolPort = TOOL_PORT): TrafficSource {
    switch (spec.kind) {
      case "phones":
        return createPhones(spec, scenario.pbx, placement);
      case "register-flood":
        return createRegisterFlood(spec, scenario.pbx, placement);
      case "sipp-office":
        return createSippOffice(spec, scenario.pbx, placement);
      case "iax2-phones":
        return createIax2Phones(spec, scenario.pbx, { ...placement, basePort: 4569 });
      case "iax2-flood":
        return createIax2Flood(spec, scenario.pbx, placement);
      case "broken-phone":
        return createBrokenPhone(spec, scenario.pbx, placement);
      case "roaming-user":
        return createRoamingUser(spec, scenario.pbx, placement);
      case "blf-subscribe":
        return createBlfSubscriber(spec, scenario.pbx, placement);
      case "tool":
        // The lab runs the program itself; the model runs its twin, which sends what it sends.
        return options.tools === "placeholders" ? toolPlaceholder(spec, placement, toolPort) : createToolTwin(spec, scenario.pbx, placement, toolPort, scenario.durationSeconds);
      case "replay": {
        const plan = replays.get(spec.name);
        if (!plan) throw new Error(`replay source ${spec.name} has no loaded capture: run the scenario through ModelEngine.run, which reads captures first`);
        return createReplaySource(spec, scenario.pbx, placement, plan);
      }
    }
  }
}

/**
 * Where a real tool runs: the host's first address. The docker lab starts
 * the program; nothing here sends. A SIPp office (sipp-register over a range
 * of accounts) is an agent per account, named by it: the lab tells its
 * calls apart by the account their messages name.
 */
function toolPlaceholder(spec: Extract<Scenario["traffic"][number], { kind: "tool" }>, placement: AgentPlacement, port: number): TrafficSource {
  const address = publicAddressesOf(placement.host)[0]!;
  const accounts = userSequence(spec.target);
  const agents = isSippOffice(spec) ? Array.from({ length: accounts.size }, (_, index) => ({ agent: accounts.at(index), address, port })) : [{ agent: address, address, port }];
  return { name: spec.name, agents, start: () => undefined, receive: () => undefined };
}

/** The first source port real tools bind, apart from the 5060 phones use. */
export const TOOL_PORT = 5070;
const SIP_PORT = 5060;
