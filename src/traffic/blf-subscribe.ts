import type { PbxSpec, TrafficSourceSpec } from "../scenario/schema.js";
import { userSequence } from "../scenario/user-list.js";
import { answerChallenge, formatCredentials, parseChallenge } from "../sip/digest.js";
import { formatResponse, type SipMessage } from "../sip/sip-message.js";
import type { AgentContext, Datagram, TrafficSource } from "./agent.js";
import { placeAgent, type AgentPlacement } from "./agent-placement.js";
import { passwordFor } from "./passwords.js";
import { PHONE_USER_AGENT } from "./phones.js";
import { Registration } from "./registration.js";
import { SipClient } from "./sip-client.js";

type BlfSpec = Extract<TrafficSourceSpec, { kind: "blf-subscribe" }>;

/** Gap between two SUBSCRIBEs of a burst: phones send them as fast as their stack allows. */
const BURST_GAP_US = 2_000;

/**
 * A receptionist's phone with a BLF key per colleague: it registers, then
 * subscribes to the dialog state of every watched extension in one burst
 * (each SUBSCRIBE challenged and resent with credentials), answers the
 * NOTIFYs, and resubscribes before the subscriptions expire.
 */
export function createBlfSubscriber(spec: BlfSpec, pbx: PbxSpec, placement: AgentPlacement): TrafficSource {
  const endpoint = placeAgent(placement, "phone", 0);
  const watched = userSequence(spec.watch);
  let client: SipClient | undefined;
  let context: AgentContext | undefined;
  return {
    name: spec.name,
    agents: [endpoint],
    start(agentContext: AgentContext) {
      context = agentContext;
      const sipClient = new SipClient(endpoint, pbx, agentContext);
      client = sipClient;
      const password = passwordFor(pbx, spec.account) ?? `unknown-${spec.account}`;
      const registration = new Registration(sipClient, agentContext, { account: spec.account, password, expiresSeconds: 3600, userAgent: PHONE_USER_AGENT });
      let subscribed = false;
      const burst = () => {
        const startUs = agentContext.now();
        for (let key = 0; key < spec.keys; key++) {
          agentContext.at(startUs + key * BURST_GAP_US, () => subscribe(sipClient, agentContext, spec, password, watched.at(key)));
        }
        agentContext.at(startUs + Math.round(spec.resubscribeSeconds * 0.9 * 1_000_000), burst);
      };
      registration.onRegistered = () => {
        if (subscribed) return;
        subscribed = true;
        burst();
      };
      agentContext.at(Math.round(spec.startSeconds * 1_000_000), () => registration.start());
    },
    receive(datagram: Datagram) {
      if (!client || !context) return;
      const request = client.receive(datagram);
      if (request?.method === "NOTIFY") answerNotify(client, request);
    },
  };
}

function subscribe(client: SipClient, context: AgentContext, spec: BlfSpec, password: string, extension: string): void {
  const callId = `${client.token(24)}@${client.endpoint.address}`;
  const fromTag = client.token(10);
  const uri = `sip:${extension}@${client.pbxHost}`;
  let cseq = 0;
  const send = (challengeHeader: string | null) => {
    const headers: Array<[string, string]> = [
      ["Contact", `<sip:${spec.account}@${client.endpoint.address}:${client.endpoint.port}>`],
      ["Event", "dialog"],
      ["Accept", "application/dialog-info+xml"],
      ["Expires", String(Math.round(spec.resubscribeSeconds))],
      ["User-Agent", PHONE_USER_AGENT],
    ];
    const challenge = challengeHeader ? parseChallenge(challengeHeader) : null;
    if (challenge) {
      headers.push(["Authorization", formatCredentials(answerChallenge(challenge, { username: spec.account, password, method: "SUBSCRIBE", uri, cnonce: client.token(16), nc: 1 }))]);
    }
    client.send(
      { method: "SUBSCRIBE", uri, callId, cseq: ++cseq, fromTag, headers, user: spec.account, toUser: extension },
      {
        onResponse: (response) => {
          if (response.status === 401 && !challenge) return send(response.header("www-authenticate") ?? "");
          const kind = response.status >= 200 && response.status < 300 ? "subscribed" : "forbidden";
          context.record({ atUs: context.now(), agent: client.endpoint.agent, kind, account: spec.account, detail: `SUBSCRIBE ${extension}: ${response.status}` });
        },
        onTimeout: () =>
          context.record({ atUs: context.now(), agent: client.endpoint.agent, kind: "timeout", account: spec.account, detail: `SUBSCRIBE ${extension} got no answer` }),
      },
    );
  };
  send(null);
}

function answerNotify(client: SipClient, request: SipMessage): void {
  const headers: Array<[string, string]> = [
    ...request.headers("via").map((via): [string, string] => ["Via", via]),
    ["From", request.header("from") ?? ""],
    ["To", request.header("to") ?? ""],
    ["Call-ID", request.callId],
    ["CSeq", `${request.cseq} NOTIFY`],
  ];
  client.transmit(formatResponse(200, "OK", headers));
}
