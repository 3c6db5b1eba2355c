import { describe, expect, it } from "vitest";
import type { OracleSend } from "../../../helpers/kernel-oracle.js";
import { ASSURED_FLOOD, LATE_FLOWS, LONG_REGISTER, SEVEN_FLOW_PACKETS, spaced } from "../../../helpers/connection-flows.js";
import { countersNamed, judgeRouteInKernel, judgeRouteInModel, kernelOracleHere, kernelOracleProblem, type RouteOutcome } from "../../../helpers/route-oracle.js";

/**
 * -m connlimit counts connections (conntrack entries: a UDP flow is one per
 * source port), not packets. Each case's datagrams are judged with conntrack
 * by the model, against what the kernel decided for them (written down here,
 * and rechecked on a veth pair in a network namespace wherever root and
 * unshare are there). The datagrams are spaced beyond two jiffies, so no case
 * depends on which CPU the kernel ran them on.
 */
const required = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
if (!kernelOracleHere && !required) console.log(`skipping the kernel half of the connlimit checks: ${kernelOracleProblem || "it needs root, unshare and iptables"}`);

const filter = (rules: string) => `*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n${rules.trim()}\nCOMMIT\n`;
const UDP = "-p udp -m udp --dport 5060";

const cases: Array<{ name: string; ruleset: string; sends: OracleSend[]; reply?: boolean; kernel: RouteOutcome }> = [
  {
    name: "the third flow from one address is over --connlimit-above 2, and the dropped flow stays counted for the flows listed before it",
    ruleset: filter(`-A INPUT ${UDP} -m connlimit --connlimit-above 2 --connlimit-mask 32 --connlimit-saddr -j DROP\n-A INPUT ${UDP} -j ACCEPT`),
    sends: [...SEVEN_FLOW_PACKETS],
    kernel: { delivered: [true, true, false, false, false, true, false], counted: { "filter:INPUT:1": 4, "filter:INPUT:2": 3 } },
  },
  {
    name: "--connlimit-upto with a /24 mask: an office's addresses share one count",
    ruleset: filter(`-A INPUT ${UDP} -m connlimit --connlimit-upto 1 --connlimit-mask 24 --connlimit-saddr -j ACCEPT\n-A INPUT ${UDP} -j DROP`),
    sends: spaced([
      { src: "203.0.113.5", sport: 5001 },
      { src: "203.0.113.6", sport: 5001 },
      { src: "203.0.113.5", sport: 5001 },
      { src: "198.51.100.7", sport: 5001 },
      { src: "203.0.113.200", sport: 5009 },
    ]),
    kernel: { delivered: [true, false, false, true, false], counted: { "filter:INPUT:1": 2, "filter:INPUT:2": 3 } },
  },
  {
    name: "--connlimit-daddr counts every flow to the PBX together",
    ruleset: filter(`-A INPUT ${UDP} -m connlimit --connlimit-above 2 --connlimit-mask 32 --connlimit-daddr -j DROP\n-A INPUT ${UDP} -j ACCEPT`),
    sends: spaced([{ src: "203.0.113.5" }, { src: "203.0.113.6" }, { src: "203.0.113.7" }, { src: "203.0.113.5" }]),
    kernel: { delivered: [true, true, false, false], counted: { "filter:INPUT:1": 2, "filter:INPUT:2": 2 } },
  },
  {
    name: "a flow whose first packet went past the rule is counted when a later packet reaches it",
    ruleset: filter(`-A INPUT ${UDP} -m length --length 0:80 -j ACCEPT\n-A INPUT ${UDP} -m connlimit --connlimit-above 1 --connlimit-mask 32 --connlimit-saddr -j DROP\n-A INPUT ${UDP} -j ACCEPT`),
    sends: spaced([...LATE_FLOWS]),
    kernel: { delivered: [true, true, true, false, false], counted: { "filter:INPUT:1": 2, "filter:INPUT:2": 2, "filter:INPUT:3": 1 } },
  },
  {
    name: "a dropped first packet is evicted by the next walk that does not stop before it",
    ruleset: filter(`-A INPUT ${UDP} -m length --length 0:80 -j ACCEPT\n-A INPUT ${UDP} -m connlimit --connlimit-above 0 --connlimit-mask 32 --connlimit-saddr -j DROP\n-A INPUT ${UDP} -j ACCEPT`),
    sends: spaced([
      { src: "203.0.113.5", sport: 5001, payload: LONG_REGISTER },
      { src: "203.0.113.5", sport: 5002 },
      { src: "203.0.113.5", sport: 5002, payload: LONG_REGISTER },
      { src: "203.0.113.5", sport: 5002, payload: LONG_REGISTER },
      { src: "203.0.113.5", sport: 5003, payload: LONG_REGISTER },
    ]),
    kernel: { delivered: [false, true, false, false, false], counted: { "filter:INPUT:1": 1, "filter:INPUT:2": 4, "filter:INPUT:3": 0, "filter:INPUT:0": 0 } },
  },
  {
    // 6.18 would skip the walk inside the jiffy of the last one (and add the flow twice) but for its u32/64-bit jiffies comparison.
    name: "a flow's packets inside one jiffy count it once",
    ruleset: filter(`-A INPUT ${UDP} -m connlimit --connlimit-above 2 --connlimit-mask 32 --connlimit-saddr -j DROP\n-A INPUT ${UDP} -j ACCEPT`),
    sends: [
      { src: "203.0.113.5", sport: 5001, at: 0 },
      { src: "203.0.113.5", sport: 5002, at: 0.05 },
      { src: "203.0.113.5", sport: 5002, at: 0.0502 },
      { src: "203.0.113.5", sport: 5002, at: 0.1 },
      { src: "198.51.100.7", sport: 5001, at: 0.15 },
      { src: "198.51.100.7", sport: 5001, at: 0.1502 },
    ],
    kernel: { delivered: [true, true, true, true, true, true], counted: { "filter:INPUT:1": 0, "filter:INPUT:2": 6 } },
  },
  {
    name: "once a replied flow is ASSURED (2 s after its first packet) its packets clear the stale flows its own walk stopped short of",
    ruleset: filter(`-A INPUT -p udp -m connlimit --connlimit-above 1 --connlimit-mask 24 --connlimit-saddr -j DROP\n-A INPUT -p udp -j ACCEPT`),
    sends: [...ASSURED_FLOOD],
    reply: true,
    // 0 to 0.75 s the flood alone; a roaming phone's dropped first packets at 0.8 and 1.3 s stay counted for it until 2.1 s; a new flow at 2.55 s finds the flood's counted.
    kernel: {
      delivered: [true, true, true, true, true, true, false, false, false, false, false, false, false, false, false, false, true, true, true, true, false, true, true],
      counted: { "filter:INPUT:1": 11, "filter:INPUT:2": 12 },
    },
  },
];

describe("-m connlimit", () => {
  for (const { name, ruleset, sends, reply = false, kernel } of cases) {
    it(`model: ${name}`, () => {
      expect(countersNamed(judgeRouteInModel(ruleset, sends, [], undefined, reply), Object.keys(kernel.counted))).toEqual(kernel);
    });
    it.runIf(kernelOracleHere || required)(`kernel: ${name}`, () => {
      expect(countersNamed(judgeRouteInKernel(ruleset, sends, [], undefined, reply, reply), Object.keys(kernel.counted))).toEqual(kernel);
    });
  }
});
