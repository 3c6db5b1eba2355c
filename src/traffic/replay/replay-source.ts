import type { PbxSpec, TrafficSourceSpec } from "../../scenario/schema.js";
import type { AgentContext, AgentEndpoint, TrafficSource } from "../agent.js";
import type { AgentPlacement } from "../agent-placement.js";
import { pbxAddressFor, publicAddressesOf } from "../host-addresses.js";
import type { ReplayPlan } from "./replay-plan.js";

type ReplaySpec = Extract<TrafficSourceSpec, { kind: "replay" }>;

/**
 * Sends a capture's packets again with their original spacing (divided by
 * `speed`): each capture client gets a lab address of the host, the capture's
 * PBX becomes the lab PBX, and every other byte of the IP datagram is kept.
 * Replies from the lab PBX arrive and are ignored, as a recording cannot react.
 */
export function createReplaySource(spec: ReplaySpec, pbx: PbxSpec, placement: AgentPlacement, plan: ReplayPlan): TrafficSource {
  // A capture's IPv4 clients take the host's IPv4 addresses in order, its IPv6 clients the IPv6 ones.
  const labAddresses = publicAddressesOf(placement.host);
  const ofFamily = (ipv6: boolean) => labAddresses.filter((address) => address.includes(":") === ipv6);
  const [labIpv4, labIpv6] = [ofFamily(false), ofFamily(true)];
  const clientsOf = (ipv6: boolean) => plan.clients.filter((client) => client.includes(":") === ipv6);
  const labAddressOf = new Map([...clientsOf(false).map((client, index) => [client, labIpv4[index]!] as const), ...clientsOf(true).map((client, index) => [client, labIpv6[index]!] as const)]);
  const firstPort = new Map<string, number>();
  for (const packet of plan.packets) {
    const client = packet.toPbx ? packet.captureSrc : packet.captureDst;
    if (!firstPort.has(client)) firstPort.set(client, packet.toPbx ? packet.sport : packet.dport);
  }
  // Agents are named by their capture address, so reports read against the original capture.
  const agents: AgentEndpoint[] = plan.clients.map((client) => ({ agent: client, address: labAddressOf.get(client)!, port: firstPort.get(client) ?? 5060 }));
  return {
    name: spec.name,
    agents,
    start(context: AgentContext) {
      const startUs = spec.startSeconds * 1_000_000;
      let next = 0;
      // One pending event at a time: a million-packet capture does not fill the queue.
      const sendDue = () => {
        const due = plan.packets[next];
        if (!due) return;
        const dueUs = Math.round(startUs + due.offsetUs);
        while (next < plan.packets.length && Math.round(startUs + plan.packets[next]!.offsetUs) === dueUs) {
          const packet = plan.packets[next++]!;
          const client = packet.toPbx ? packet.captureSrc : packet.captureDst;
          const lab = labAddressOf.get(client)!;
          const labPbx = pbxAddressFor(pbx, lab);
          const datagram = packet.toPbx
            ? { src: lab, sport: packet.sport, dst: labPbx, dport: packet.dport, payload: packet.payload, ipDatagram: packet.ip }
            : { src: labPbx, sport: packet.sport, dst: lab, dport: packet.dport, payload: packet.payload, ipDatagram: packet.ip };
          if (packet.toPbx) context.send(client, datagram);
          else context.sendFromPbx?.(client, datagram);
        }
        const following = plan.packets[next];
        if (following) context.at(Math.round(startUs + following.offsetUs), sendDue);
      };
      if (plan.packets.length) context.at(Math.round(startUs + plan.packets[0]!.offsetUs), sendDue);
    },
    receive() {
      // A recording does not answer challenges.
    },
  };
}
