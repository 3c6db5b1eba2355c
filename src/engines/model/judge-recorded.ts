import { compileRulesetText } from "./compile-ruleset.js";
import { decodeIp } from "../../net/ipv6.js";
import { dualStackFirewall } from "./netfilter/dual-stack.js";
import type { RuleRef } from "../../firewall/ruleset.js";
import type { RunResult } from "../../verdict/run-result.js";
import { ConntrackTable, UNTRACKED, contextAfterConntrack } from "./conntrack.js";
import { defaultKernelSettings, type KernelSettings } from "./kernel-settings.js";
import { firewallState } from "./netfilter/firewall-state.js";
import { describeMatchState } from "./netfilter/describe-state.js";
import { banInSet } from "./netfilter/matches/set.js";
import { parseIpv4 } from "../../net/address.js";

export interface JudgeOptions {
  /**
   * Where the run's time 0 falls inside a jiffy, in µs: the kernel's tick is not
   * aligned with the run, and rate matchers (limit, hashlimit) count whole jiffies.
   */
  readonly jiffyPhaseUs?: number;
  /** Indices of the run's verdicts whose state before judging to describe (stateBefore). */
  readonly describeAt?: ReadonlySet<number>;
  /** Jiffies to add to single packets' times, by their index in the run's verdicts. */
  readonly shiftJiffies?: ReadonlyMap<number, number>;
}

export interface RecordedJudgement {
  readonly accepted: boolean;
  readonly rule: RuleRef;
  /**
   * For the packets asked for (JudgeOptions.describeAt): what conntrack and the
   * recent, hashlimit and limit matches held for this packet just before it was judged.
   */
  readonly stateBefore: string;
}

/**
 * The model's verdicts for packets another run recorded (the docker engine's
 * NFLOG log), at the times they were recorded: conntrack and the filter see
 * exactly those bytes in that order. Where these agree with the kernel and the
 * model's own run did not, the difference came from timing alone.
 */
export function judgeRecorded(result: RunResult, placement: "host" | "router", kernel: Partial<KernelSettings> = {}, options: JudgeOptions = {}): RecordedJudgement[] {
  if (!result.packets) throw new Error("judgeRecorded needs the run's packets (RunOptions.keepPackets)");
  const settings = { ...defaultKernelSettings, ...kernel };
  const state = firewallState(settings, result.localAddresses ?? [], result.ipsetText === undefined ? undefined : { path: "the run's ipset", text: result.ipsetText }, result.wallClockStartMs);
  const ipv4 = compileRulesetText(result.rulesetText, "recorded run", state);
  const firewall = result.ipv6RulesetText === undefined ? ipv4 : dualStackFirewall(ipv4, result.ipv6RulesetText, "recorded run (ip6tables)", state);
  const conntrack = new ConntrackTable(settings);
  const tracker = conntrack.tracker();
  const phaseUs = options.jiffyPhaseUs ?? 0;
  let lastJiffies = settings.startJiffies;
  // fail2ban's bans reach the sets at the run's own ban times: its netfilter judged with its jail's timing.
  const bans = [...(result.fail2ban?.bans ?? [])].sort((a, b) => a.atUs - b.atUs);
  let nextBan = 0;
  return result.verdicts.map((verdict, index) => {
    const packet = decodeIp(result.packets![verdict.packetId]!, "eth0");
    const shift = options.shiftJiffies?.get(index) ?? 0;
    // The kernel's clock never runs backwards, whatever order the recorded times came in.
    const jiffies = Math.max(lastJiffies, settings.startJiffies + Math.floor((Math.max(0, verdict.atUs + phaseUs) * settings.hz) / 1_000_000) + shift);
    lastJiffies = jiffies;
    for (; nextBan < bans.length && bans[nextBan]!.atUs <= verdict.atUs; nextBan++) {
      for (const set of result.fail2ban!.sets) banInSet(firewall, state, set, parseIpv4(bans[nextBan]!.address), result.fail2ban!.bantimeSeconds, jiffies);
    }
    const hook = placement === "router" ? "FORWARD" : verdict.direction === "to-pbx" ? "INPUT" : "OUTPUT";
    // What the matches held before this packet; conntrack's part comes from the route, which classifies it after raw.
    const matchesBefore = options.describeAt?.has(index) ? describeMatchState(state, packet, contextAfterConntrack(UNTRACKED, jiffies, hook, "eth0", Math.max(0, verdict.atUs) * 1000)) : null;
    tracker.at(jiffies);
    // The whole route, as the model's own run judges it: conntrack runs after the raw table.
    const judgement = firewall.judgeRoute(hook, packet, { jiffies, clockNs: Math.max(0, verdict.atUs) * 1000, outInterface: "eth0" }, tracker);
    const classification = tracker.last();
    // Entries as the packet found them: after conntrack dropped the expired ones, before this one is confirmed.
    const tracked = conntrack.size();
    const stateBefore = matchesBefore ? [`conntrack ${classification.state} (${tracked} ${tracked === 1 ? "entry" : "entries"})`, ...matchesBefore].join("; ") : "";
    if (judgement.accepted) conntrack.commit(classification);
    return { accepted: judgement.accepted, rule: judgement.rule, stateBefore };
  });
}
