import { formatRequest, parseSip, type HeaderList, type SipMessage } from "../sip/sip-message.js";
import { sipHost } from "../sip/sip-host.js";
import type { AgentContext, Datagram } from "./agent.js";

/**
 * The transaction layer of one user agent's socket: it sends requests,
 * retransmits them over UDP as RFC 3261 17.1.2 says (Timer E from T1 = 500 ms
 * doubling to T2 = 4 s, Timer F gives up after 64*T1 = 32 s) and hands each
 * final response to the request that asked. Phones behind a firewall that
 * drops them keep retransmitting, and the firewall sees every copy. Over
 * TCP nothing is retransmitted here (17.1.2.2: Timer E is for unreliable
 * transports; the connection's own TCP resends), and Timer F still ends it.
 */

const T1_US = 500_000;
const T2_US = 4_000_000;
const TIMER_F_US = 64 * T1_US;

export interface Endpoint {
  readonly agent: string;
  readonly address: string;
  readonly port: number;
}

export interface OutgoingRequest {
  readonly method: string;
  readonly uri: string;
  readonly callId: string;
  readonly cseq: number;
  readonly fromTag: string;
  /** Headers besides Via, From, To, Call-ID, CSeq, Max-Forwards. */
  readonly headers: HeaderList;
  readonly user: string;
  readonly toUser?: string;
  readonly body?: string;
}

export interface TransactionHandlers {
  onResponse(response: SipMessage): void;
  onTimeout(): void;
}

interface Pending {
  readonly handlers: TransactionHandlers;
  /** Each pending transaction checks this before retransmitting, so answered ones stop. */
  done: boolean;
}

export class SipClient {
  private readonly pending = new Map<string, Pending>();

  constructor(
    readonly endpoint: Endpoint,
    private readonly pbx: { readonly address: string; readonly port: number },
    private readonly context: AgentContext,
    readonly transport: "udp" | "tcp" | "tls" = "udp",
  ) {}

  /** The PBX as request URIs name it (an IPv6 address in brackets). */
  get pbxHost(): string {
    return sipHost(this.pbx.address);
  }

  /** Random hex from the source's seeded stream (tags, branches, Call-IDs). */
  token(length = 16): string {
    let text = "";
    while (text.length < length) text += Math.floor(this.context.random() * 0x1_0000_0000).toString(16).padStart(8, "0");
    return text.slice(0, length);
  }

  /** Sends a request and keeps retransmitting it until a final response or Timer F. */
  send(request: OutgoingRequest, handlers: TransactionHandlers, options: { retransmit?: boolean } = {}): void {
    const branch = `z9hG4bK${this.token(20)}`;
    const toUser = request.toUser ?? request.user;
    const headers: HeaderList = [
      ["Via", `SIP/2.0/${this.transport.toUpperCase()} ${sipHost(this.endpoint.address)}:${this.endpoint.port};branch=${branch};rport`],
      ["Max-Forwards", "70"],
      ["From", `<sip:${request.user}@${this.pbxHost}>;tag=${request.fromTag}`],
      ["To", `<sip:${toUser}@${this.pbxHost}>`],
      ["Call-ID", request.callId],
      ["CSeq", `${request.cseq} ${request.method}`],
      ...request.headers,
    ];
    const payload = formatRequest(request.method, request.uri, headers, request.body ?? "");
    const pending: Pending = { handlers, done: false };
    this.pending.set(branch, pending);
    const startUs = this.context.now();
    this.transmit(payload);
    if (options.retransmit === false) return;
    const retransmit = (intervalUs: number, atUs: number) => {
      this.context.at(atUs, () => {
        if (pending.done) return;
        if (atUs - startUs >= TIMER_F_US) {
          pending.done = true;
          this.pending.delete(branch);
          handlers.onTimeout();
          return;
        }
        this.transmit(payload);
        const next = Math.min(intervalUs * 2, T2_US);
        retransmit(next, Math.min(atUs + next, startUs + TIMER_F_US));
      });
    };
    // Over a reliable transport only Timer F: the first "retransmission" falls at its end.
    if (this.transport !== "udp") retransmit(TIMER_F_US, startUs + TIMER_F_US);
    else retransmit(T1_US, startUs + T1_US);
  }

  /** Abandons every transaction in flight (a phone that starts over). */
  cancelAll(): void {
    for (const pending of this.pending.values()) pending.done = true;
    this.pending.clear();
  }

  /** Routes an arriving datagram: responses to their transaction; requests are returned to the caller. */
  receive(datagram: Datagram): SipMessage | null {
    const message = parseSip(datagram.payload);
    if (!message) return null;
    if (message.kind === "request") return message;
    const pending = this.pending.get(message.viaBranch);
    // Provisional responses only stretch retransmissions; slamlab's PBX sends none.
    if (!pending || pending.done || message.status < 200) return null;
    pending.done = true;
    this.pending.delete(message.viaBranch);
    pending.handlers.onResponse(message);
    return null;
  }

  /** Sends bytes as they are (responses to the PBX's requests, unretransmitted floods). */
  transmit(payload: Uint8Array, sourcePort = this.endpoint.port): void {
    this.context.send(this.endpoint.agent, {
      src: this.endpoint.address,
      sport: sourcePort,
      dst: this.pbx.address,
      dport: this.pbx.port,
      payload,
      ...(this.transport === "udp" ? {} : { transport: this.transport }),
    });
  }
}
