import { statSync } from "node:fs";
import type { Scenario } from "./scenario.js";
import { userSequence } from "./user-list.js";
import { publicAddressCount } from "../traffic/host-addresses.js";
import { SIPVICIOUS_PPS } from "../traffic/tool-twin.js";
import { isSippOffice } from "./sipp-office-tool.js";

/**
 * Packets a run judges by default before it is refused. A run that keeps its
 * verdicts (--json --verdicts, --pcap-dir, the docker engine's join, tune's
 * runs kept for re-judging) holds about 270 to 300 bytes for each
 * (`bench/model-memory.ts`), so this keeps it under about 1.5 GB. A run that
 * streams them into its outcomes holds its sources' state, not its packets
 * (150 MB for 30 million, test/engines/model/run-memory.test.ts): its budget
 * is time, about an hour at the model's 60,000 to 80,000 packets a second
 * end to end. `--max-packets` sets either.
 */
export const DEFAULT_PACKET_BUDGET = 5_000_000;
export const DEFAULT_STREAMED_PACKET_BUDGET = 200_000_000;
export const BYTES_PER_JUDGED_PACKET = 300;
/** The model's end-to-end rate on a scanning botnet (bench/model-profile.ts), for a streamed run's time estimate. */
const STREAMED_PACKETS_PER_SECOND = 60_000;

export interface SourceEstimate {
  readonly source: string;
  readonly packets: number;
  /** How the figure was reached, for the refusal message. */
  readonly how: string;
}

export interface PacketEstimate {
  readonly packets: number;
  readonly bySource: readonly SourceEstimate[];
}

const thousands = (value: number) => Math.round(value).toLocaleString("en-US");

/**
 * An upper estimate of the packets a run judges (requests and the PBX's
 * answers), from the scenario alone, before any work. Floods dominate; the
 * other kinds are bounded by their timers (SIP retransmissions included).
 */
export function estimatePackets(scenario: Scenario): PacketEstimate {
  const bySource = scenario.traffic.map((spec): SourceEstimate => {
    const active = Math.max(0, scenario.durationSeconds - spec.startSeconds);
    switch (spec.kind) {
      case "register-flood": {
        const host = scenario.hosts[spec.host];
        const hostAddresses = host ? publicAddressCount(host) : 1;
        // Rotating, the addresses take turns: the tool sends ratePps in all.
        const addresses = spec.rotateAddresses ? 1 : spec.addressCount === 0 ? hostAddresses : Math.min(spec.addressCount, hostAddresses);
        const seconds = Math.min(spec.durationSeconds, active);
        return { source: spec.name, packets: 2 * spec.ratePps * seconds * addresses, how: `${thousands(spec.ratePps)} pps x ${seconds} s x ${thousands(addresses)} address(es) x 2 with answers` };
      }
      case "iax2-flood": {
        // An attempt: three REGREQs and an ACK, answered CALLTOKEN, REGAUTH, ACK and REGREJ; a REGAUTH whose answer is dropped comes four times more.
        const host = scenario.hosts[spec.host];
        const hostAddresses = host ? publicAddressCount(host) : 1;
        const addresses = spec.addressCount === 0 ? hostAddresses : Math.min(spec.addressCount, hostAddresses);
        const seconds = Math.min(spec.durationSeconds, active);
        return { source: spec.name, packets: 12 * spec.ratePps * seconds * addresses, how: `${thousands(spec.ratePps)} attempts/s x ${seconds} s x ${thousands(addresses)} address(es) x 12 packets` };
      }
      case "iax2-phones": {
        // Every 5/6 of the refresh: at most five REGREQ sends each (four retransmissions) and the answers.
        const registrations = 1 + Math.ceil(active / ((spec.refreshSeconds * 5) / 6));
        return { source: spec.name, packets: spec.count * registrations * 16, how: `${spec.count} phones x ${registrations} registrations x 16 packets` };
      }
      case "phones": {
        const registrations = 1 + Math.ceil(active / (spec.expiresSeconds / 2));
        return { source: spec.name, packets: spec.count * registrations * 24, how: `${spec.count} phones x ${registrations} registrations x 24 packets` };
      }
      case "sipp-office": {
        // Each call: two REGISTERs, each sent at most ten times (SIPp's nine retransmissions), and their answers.
        const calls = spec.count ?? userSequence(spec.accounts).size;
        return { source: spec.name, packets: calls * 2 * 10 * 2, how: `${thousands(calls)} calls x 2 REGISTERs x 10 sends x 2 with answers` };
      }
      case "broken-phone": {
        const attempts = Math.ceil(Math.min(spec.durationSeconds, active) / spec.intervalSeconds);
        return { source: spec.name, packets: attempts * 4, how: `${thousands(attempts)} attempts x 4 packets` };
      }
      case "roaming-user": {
        const moves = 1 + Math.ceil(active / spec.moveEverySeconds);
        return { source: spec.name, packets: moves * 24, how: `${moves} moves x 24 packets` };
      }
      case "blf-subscribe": {
        const rounds = 1 + Math.ceil(active / spec.resubscribeSeconds);
        return { source: spec.name, packets: 24 + spec.keys * rounds * 4, how: `${spec.keys} keys x ${rounds} rounds x 4 packets` };
      }
      case "replay": {
        // A captured packet is at least 60 bytes on the wire; each may be answered.
        let bytes = 0;
        try {
          bytes = statSync(spec.file).size;
        } catch {
          bytes = 0;
        }
        return { source: spec.name, packets: Math.ceil(bytes / 60) * 2, how: `at most ${thousands(Math.ceil(bytes / 60))} captured packets x 2 with answers` };
      }
      case "tool": {
        // The tool in the lab, its twin in the model: sipvicious at its pace, SIPp as an office or one phone.
        if (spec.tool !== "sipp-register") return { source: spec.name, packets: 2 * SIPVICIOUS_PPS * active, how: `${spec.tool} at ${SIPVICIOUS_PPS} pps x ${active} s x 2 with answers` };
        const calls = isSippOffice(spec) ? (spec.count ?? userSequence(spec.target).size) : 1;
        return { source: spec.name, packets: calls * 2 * 10 * 2, how: `${thousands(calls)} SIPp call(s) x 2 REGISTERs x 10 sends x 2 with answers` };
      }
    }
  });
  return { packets: bySource.reduce((sum, source) => sum + source.packets, 0), bySource };
}

export class PacketBudgetError extends Error {
  readonly code = "PACKET_BUDGET";
}

/**
 * Refuses, before any work, a run estimated over its budget, with the
 * estimate and what to do. `keepsPackets` says whether the run holds a record
 * per packet (then memory is the limit) or streams them (then time is).
 */
export function checkPacketBudget(scenario: Scenario, budget?: number, keepsPackets = true): PacketEstimate {
  const estimate = estimatePackets(scenario);
  const limit = budget ?? (keepsPackets ? DEFAULT_PACKET_BUDGET : DEFAULT_STREAMED_PACKET_BUDGET);
  if (estimate.packets <= limit) return estimate;
  const biggest = [...estimate.bySource].sort((a, b) => b.packets - a.packets)[0]!;
  const gigabytes = (packets: number) => ((packets * BYTES_PER_JUDGED_PACKET) / 1e9).toFixed(1);
  const label = scenario.variant ? `${scenario.name} [${scenario.variant}]` : scenario.name;
  const cost = keepsPackets ? `about ${gigabytes(limit)} GB of memory with a record kept per packet` : `about ${hours(limit)} at the model's ${thousands(STREAMED_PACKETS_PER_SECOND)} packets a second`;
  const raised = keepsPackets ? `about ${gigabytes(estimate.packets)} GB kept` : `about ${hours(estimate.packets)}`;
  throw new PacketBudgetError(
    `${scenario.file}: ${label} would judge about ${thousands(estimate.packets)} packets (largest: traffic ${biggest.source}, ${biggest.how}), ` +
      `over the budget of ${thousands(limit)} (${cost}); shorten durationSeconds, lower ratePps or the address count, ` +
      `or raise the budget with --max-packets ${Math.ceil(estimate.packets)} (${raised})`,
  );
}

function hours(packets: number): string {
  const seconds = packets / STREAMED_PACKETS_PER_SECOND;
  return seconds < 3600 ? `${Math.ceil(seconds / 60)} minutes` : `${(seconds / 3600).toFixed(1)} hours`;
}
