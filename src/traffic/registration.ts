import { answerChallenge, formatCredentials, parseChallenge } from "../sip/digest.js";
import { sipHost } from "../sip/sip-host.js";
import type { SipMessage } from "../sip/sip-message.js";
import type { AgentContext } from "./agent.js";
import type { SipClient } from "./sip-client.js";

/**
 * A phone's registration as deployed phones run it: REGISTER, answer the
 * 401 challenge, refresh at 90% of the granted expiry, and after a failure
 * (timeout, rejected credentials) try again later with growing back-off
 * (RFC 5626 4.5 style: 30 s doubling up to 30 min, 50-100% jittered).
 */

export interface RegistrationSettings {
  readonly account: string;
  readonly password: string;
  readonly expiresSeconds: number;
  readonly userAgent: string;
  /** A broken phone retries on a fixed interval instead (undefined: back off). */
  readonly fixedRetrySeconds?: number;
}

const FIRST_RETRY_SECONDS = 30;
const MAX_RETRY_SECONDS = 1800;

export class Registration {
  private readonly callId: string;
  private readonly fromTag: string;
  private cseq = 0;
  private failures = 0;
  private nonceCount = 0;
  /** Bumped on stop() and on every new cycle; stale timers see a different value and do nothing. */
  private generation = 0;
  onRegistered: (() => void) | undefined;

  constructor(
    private readonly client: SipClient,
    private readonly context: AgentContext,
    private readonly settings: RegistrationSettings,
  ) {
    this.callId = `${client.token(24)}@${client.endpoint.address}`;
    this.fromTag = client.token(10);
  }

  start(): void {
    this.generation++;
    this.attempt(null, false);
  }

  stop(): void {
    this.generation++;
    this.client.cancelAll();
  }

  private attempt(challengeHeader: string | null, staleRetry: boolean): void {
    const generation = this.generation;
    const { account, password, expiresSeconds, userAgent } = this.settings;
    const uri = `sip:${this.client.pbxHost}`;
    const headers: Array<[string, string]> = [
      ["Contact", `<sip:${account}@${sipHost(this.client.endpoint.address)}:${this.client.endpoint.port};transport=${this.client.transport}>`],
      ["Expires", String(expiresSeconds)],
      ["User-Agent", userAgent],
      ["Allow", "INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, OPTIONS, SUBSCRIBE, INFO, MESSAGE"],
    ];
    const challenge = challengeHeader ? parseChallenge(challengeHeader) : null;
    if (challenge) {
      const credentials = answerChallenge(challenge, { username: account, password, method: "REGISTER", uri, cnonce: this.client.token(16), nc: ++this.nonceCount });
      headers.push(["Authorization", formatCredentials(credentials)]);
    }
    this.client.send(
      { method: "REGISTER", uri, callId: this.callId, cseq: ++this.cseq, fromTag: this.fromTag, headers, user: account },
      {
        onResponse: (response) => {
          if (generation === this.generation) this.handle(response, challenge !== null, staleRetry);
        },
        onTimeout: () => {
          if (generation !== this.generation) return;
          this.context.record({ atUs: this.context.now(), agent: this.client.endpoint.agent, kind: "timeout", account, detail: "REGISTER got no answer within Timer F (32 s)" });
          this.retryLater();
        },
      },
    );
  }

  private handle(response: SipMessage, sentCredentials: boolean, staleRetry: boolean): void {
    const { account } = this.settings;
    const agent = this.client.endpoint.agent;
    const now = this.context.now();
    if (response.status === 401 || response.status === 407) {
      const header = response.header(response.status === 401 ? "www-authenticate" : "proxy-authenticate") ?? "";
      const stale = parseChallenge(header)?.stale === true;
      if (!sentCredentials || (stale && !staleRetry)) {
        this.nonceCount = 0;
        this.attempt(header, stale);
        return;
      }
      this.context.record({ atUs: now, agent, kind: "unauthorized", account, detail: "credentials rejected (401 after answering the challenge)" });
      this.retryLater();
      return;
    }
    if (response.status === 423) {
      this.context.record({ atUs: now, agent, kind: "forbidden", account, detail: "423 Interval Too Brief" });
      this.retryLater();
      return;
    }
    if (response.status >= 200 && response.status < 300) {
      const granted = Number(/;\s*expires=(\d+)/i.exec(response.header("contact") ?? "")?.[1] ?? response.header("expires") ?? this.settings.expiresSeconds);
      this.failures = 0;
      this.context.record({ atUs: now, agent, kind: "registered", account, detail: `expires ${granted} s` });
      this.onRegistered?.();
      const generation = ++this.generation;
      this.context.at(now + Math.round(granted * 0.9 * 1_000_000), () => {
        if (generation === this.generation) this.attempt(null, false);
      });
      return;
    }
    this.context.record({ atUs: now, agent, kind: "forbidden", account, detail: `${response.status} ${response.reason}` });
    this.retryLater();
  }

  private retryLater(): void {
    const generation = ++this.generation;
    const fixed = this.settings.fixedRetrySeconds;
    let delaySeconds: number;
    if (fixed !== undefined) {
      delaySeconds = fixed;
    } else {
      const ceiling = Math.min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** this.failures);
      delaySeconds = ceiling * (0.5 + 0.5 * this.context.random());
      this.failures++;
    }
    this.context.at(this.context.now() + Math.round(delaySeconds * 1_000_000), () => {
      if (generation === this.generation) this.attempt(null, false);
    });
  }
}
