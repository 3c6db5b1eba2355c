import type { PbxSpec } from "../../scenario/schema.js";
import { userSequence } from "../../scenario/user-list.js";
import { digestResponse, formatChallenge, md5Hex, parseDigestParameters } from "../../sip/digest.js";
import { formatRequest, formatResponse, parseSip, viaWithReceived, type SipMessage } from "../../sip/sip-message.js";
import type { Datagram } from "../../traffic/agent.js";
import type { PbxModel, PbxReply } from "./pbx.js";

/**
 * Asterisk 22 with res_pjsip as slamlab configures it (one endpoint per
 * account, `auth_type=userpass`, `max_contacts=1`, `remove_existing=yes`).
 * What matters for a firewall test is what goes back on the wire:
 *  - every request without valid credentials gets a 401 with a fresh digest
 *    challenge; a wrong password and an unknown user get the same 401, so a
 *    scanner learns nothing from the difference (PJSIP's artificial endpoint);
 *  - nonces live 32 s (`nonce_lifetime`), an old one gets `stale=true`;
 *  - REGISTER with valid credentials gets 200 with the contact and expiry
 *    clamped to `min_expires`..`max_expires` (60..7200), or 423 below 60;
 *  - SUBSCRIBE gets 200 and then a NOTIFY, INVITE gets 404 (no dialplan),
 *    OPTIONS gets 200 without a challenge, as PJSIP's OPTIONS handler does;
 *  - responses go to the source address and port (`force_rport`), with
 *    `received`/`rport` filled into the Via.
 */

const NONCE_LIFETIME_US = 32_000_000;
const MIN_EXPIRES = 60;
const MAX_EXPIRES = 7200;
/**
 * How long after a request reaches the kernel the request its answer triggers
 * reaches it, in the lab (the p50s of `node dist/bench/reply-timing.js --runs 2`):
 * Asterisk's processing and the phone's reaction together, since the model's
 * user agents react at once. A REGISTER's answer takes longer than a
 * SUBSCRIBE's, and a registration longer than a challenge.
 */
const REGISTER_CHALLENGE_DELAY_US = 1000;
const CHALLENGE_DELAY_US = 700;
const REGISTERED_DELAY_US = 1350;
/**
 * A subscription's NOTIFY follows its 200; measured until the phone's answer to it reaches the kernel
 * (p50 1,077 µs, `node dist/bench/reply-timing.js --only blf-subscribe,random-46,random-53,random-104,random-106,random-143`).
 */
const NOTIFY_DELAY_US = 1080;
/** Answers that trigger no request (OPTIONS, INVITE, SUBSCRIBE's 200) cannot be timed that way: an order of magnitude. */
const REPLY_DELAY_US = 600;
/** From an authenticated INVITE to the dialplan's answer (Asterisk sends no 100 Trying first): an order of magnitude, not yet measured. */
const CALL_ANSWER_DELAY_US = 1500;
/** The thread id in Asterisk's log lines: any number; fail2ban's filter reads past it. */
export const ASTERISK_PID = 4242;
/** The Server header the lab's Asterisk sends (pjsip.conf `user_agent`, as in captures/record/pjsip.conf). */
const SERVER = "Asterisk PBX 22";
const SERVER_HEADER = ["Server", SERVER] as const;
/** PJSIP right-aligns Content-Length in five columns: "Content-Length:  0". */
const CONTENT_LENGTH_WIDTH = 2;
const ALLOW = "OPTIONS, REGISTER, SUBSCRIBE, NOTIFY, PUBLISH, INVITE, ACK, BYE, CANCEL, UPDATE, PRACK, MESSAGE, REFER";
/**
 * The dialplan's final answer to an INVITE over UDP is sent again until its
 * ACK comes (RFC 3261 17.2.1, PJSIP's sip_transaction.c): Timer G from T1
 * (500 ms) doubling to T2 (4 s), until Timer H (64 x T1, 32 s) ends the
 * transaction, so a caller whose ACK never comes (a bot whose ACK the
 * firewall drops) gets it eleven times. A 401 is not: the distributor
 * challenges statelessly, before any transaction (seen in the lab).
 */
const INVITE_RETRANSMIT_AFTER_US = (() => {
  const times: number[] = [];
  for (let at = 0, interval = 500_000; at + interval < 32_000_000; interval = Math.min(interval * 2, 4_000_000)) times.push((at += interval));
  return times;
})();

export interface Registration {
  readonly account: string;
  readonly contact: string;
  readonly expiresAtUs: number;
}

/**
 * A line Asterisk writes to its messages log about a request that failed,
 * as res_pjsip/pjsip_distributor.c's log_failed_request does: what
 * fail2ban's asterisk filter reads.
 */
export interface SecurityLogLine {
  readonly atUs: number;
  readonly address: string;
  readonly port: number;
  readonly reason: "No matching endpoint found" | "Failed to authenticate" | "extension not found" | "No registration for peer" | "failed MD5 authentication";
  /** The NOTICE line as /var/log/asterisk/messages holds it (after its timestamp). */
  readonly text: string;
}

/**
 * The security events Asterisk raises about a request (res_pjsip's
 * security_events.c, written to the security log by res_security_log):
 * pjsip_distributor.c's endpoint_lookup reports a From user that is no
 * endpoint (InvalidAccountID), its authenticate() each challenge sent,
 * failed answer and success.
 */
export type SecurityEventName = "InvalidAccountID" | "ChallengeSent" | "ChallengeResponseFailed" | "SuccessfulAuth";

export interface SecurityEvent {
  readonly address: string;
  readonly port: number;
  readonly name: SecurityEventName;
}

export interface AsteriskPbx extends PbxModel {
  /** Contacts registered at `nowUs`, as `pjsip show contacts` lists them. */
  registrations(nowUs: number): Registration[];
}

/**
 * `onLog` hears every failed request Asterisk logs. With the default
 * endpoint_identifier_order (ip,username,anonymous) a request whose From user
 * is no endpoint is logged "No matching endpoint found" as it arrives (any
 * method but ACK), and a known endpoint's request whose credentials fail
 * "Failed to authenticate"; a request without credentials is challenged
 * unlogged, and so is a valid answer to a stale nonce.
 */
export function createAsteriskPbx(spec: PbxSpec, onLog?: (line: SecurityLogLine) => void, onSecurityEvent?: (event: SecurityEvent) => void): AsteriskPbx {
  const accounts = spec.accounts.map((account) => ({ users: userSequence(account.users), password: account.password }));
  const passwordOf = (user: string): string | undefined => {
    const account = accounts.find((candidate) => candidate.users.includes(user));
    return account?.password.replaceAll("{user}", user);
  };
  const contacts = new Map<string, Registration>();
  const secret = md5Hex(`slamlab-pbx:${spec.address}:${spec.realm}`).slice(0, 16);
  let tagCounter = 0;
  let notifyCounter = 0;

  // Nonces as PJSIP writes them: "<seconds>/<md5 of the seconds and a secret>", so the PBX can
  // check it issued a nonce without remembering it, and how old it is (nonce_lifetime).
  // A nonce depends on its second alone: hashed once a second, not once a challenge (a flood gets thousands a second).
  const noncesBySecond = new Map<number, string>();
  const nonceAt = (issued: number) => {
    let nonce = noncesBySecond.get(issued);
    if (nonce === undefined) {
      if (noncesBySecond.size >= 64) noncesBySecond.clear();
      nonce = `${issued}/${md5Hex(`${issued}:${secret}:${spec.realm}`)}`;
      noncesBySecond.set(issued, nonce);
    }
    return nonce;
  };
  const newNonce = (nowUs: number) => nonceAt(RUN_EPOCH_SECONDS + Math.floor(nowUs / 1_000_000));
  /** Age in microseconds of a nonce this PBX issued, or null for one it did not. */
  const nonceAge = (nonce: string, nowUs: number): number | null => {
    const match = /^(\d+)\/[0-9a-f]{32}$/.exec(nonce);
    if (!match || nonceAt(Number(match[1])) !== nonce) return null;
    const age = nowUs - (Number(match[1]) - RUN_EPOCH_SECONDS) * 1_000_000;
    return age < -1_000_000 ? null : age;
  };
  const newTag = () => md5Hex(`${secret}:tag:${++tagCounter}`).slice(0, 16);
  const opaque = secret;

  const reply = (to: Datagram, payload: Uint8Array): PbxReply => ({
    // From the address the request reached: the PBX's IPv6 address for an IPv6 source.
    datagram: { src: to.dst, sport: to.dport, dst: to.src, dport: to.sport, payload, ...(to.transport ? { transport: to.transport } : {}) },
    delayUs: REPLY_DELAY_US,
  });

  /** PJSIP answers out-of-dialog requests with the request's branch as the To tag. */
  const responseHeaders = (request: SipMessage, from: Datagram): Array<[string, string]> => [
    ["Via", viaWithReceived(request.header("via")!, from.src, from.sport)],
    ["Call-ID", request.callId],
    ["From", request.header("from") ?? ""],
    ["To", request.toTag ? (request.header("to") ?? "") : `${request.header("to") ?? ""};tag=${request.viaBranch || newTag()}`],
    ["CSeq", `${request.cseq} ${request.method}`],
  ];
  /** `headers` gets the Server header added: callers pass a list of their own. */
  const respond = (to: Datagram, status: number, reason: string, headers: Array<readonly [string, string]>, body = ""): { -readonly [K in keyof PbxReply]: PbxReply[K] } => {
    headers.push(SERVER_HEADER);
    return reply(to, formatResponse(status, reason, headers, body, CONTENT_LENGTH_WIDTH));
  };

  // The WWW-Authenticate value depends on the nonce (one a second) and stale alone: made once for each.
  let challengedNonce = "";
  const challengeValues = ["", ""];
  const challengeValue = (nonce: string, stale: boolean): string => {
    if (nonce !== challengedNonce) {
      challengedNonce = nonce;
      challengeValues[0] = formatChallenge({ realm: spec.realm, nonce, opaque, algorithm: "MD5", qop: "auth", stale: false });
      challengeValues[1] = formatChallenge({ realm: spec.realm, nonce, opaque, algorithm: "MD5", qop: "auth", stale: true });
    }
    return challengeValues[stale ? 1 : 0]!;
  };
  const challenge = (request: SipMessage, from: Datagram, nowUs: number, stale: boolean): PbxReply => {
    const headers = responseHeaders(request, from);
    headers.push(["WWW-Authenticate", challengeValue(newNonce(nowUs), stale)]);
    const answer = respond(from, 401, "Unauthorized", headers);
    answer.delayUs = request.method === "REGISTER" ? REGISTER_CHALLENGE_DELAY_US : CHALLENGE_DELAY_US;
    return answer;
  };

  const logFailure = (request: SipMessage, from: Datagram, nowUs: number, reason: SecurityLogLine["reason"]) => {
    if (!onLog) return;
    const text = `NOTICE[${ASTERISK_PID}] res_pjsip/pjsip_distributor.c: Request '${request.method}' from '${request.header("from")?.replace(/;tag=[^;]*/, "") ?? ""}' failed for '${from.src}:${from.sport}' (callid: ${request.callId}) - ${reason}`;
    onLog({ atUs: nowUs, address: from.src, port: from.sport, reason, text });
  };

  /** null when the credentials are valid; otherwise whether the 401 must say stale=true, and whether there were credentials to fail. */
  const checkCredentials = (request: SipMessage, nowUs: number): { valid: true; user: string } | { valid: false; stale: boolean; failed?: true } => {
    const authorization = request.header("authorization");
    if (!authorization) return { valid: false, stale: false };
    const parameters = parseDigestParameters(authorization);
    if (!parameters?.username || !parameters.nonce || !parameters.response) return { valid: false, stale: false, failed: true };
    const age = nonceAge(parameters.nonce, nowUs);
    if (age === null || parameters.realm !== spec.realm) return { valid: false, stale: false, failed: true };
    const password = passwordOf(parameters.username);
    // PJSIP identifies the endpoint by the From user; credentials for another account do not count.
    if (password === undefined || parameters.username !== request.fromUser) return { valid: false, stale: false, failed: true };
    const expected = digestResponse({
      username: parameters.username,
      password,
      realm: spec.realm,
      method: request.method,
      uri: parameters.uri ?? "",
      nonce: parameters.nonce,
      qop: parameters.qop,
      nc: parameters.nc,
      cnonce: parameters.cnonce,
    });
    if (expected !== parameters.response) return { valid: false, stale: false, failed: true };
    if (age > NONCE_LIFETIME_US) return { valid: false, stale: true };
    return { valid: true, user: parameters.username };
  };

  const register = (request: SipMessage, from: Datagram, user: string, nowUs: number): PbxReply => {
    const contact = request.header("contact") ?? "";
    const contactExpires = /;\s*expires=(\d+)/i.exec(contact)?.[1];
    const requested = Number(contactExpires ?? request.header("expires") ?? "3600");
    const headers = responseHeaders(request, from);
    if (requested === 0 || contact === "*") {
      contacts.delete(user);
      return respond(from, 200, "OK", [...headers, ["Date", httpDate(nowUs)]]);
    }
    if (requested < MIN_EXPIRES) return respond(from, 423, "Interval Too Brief", [...headers, ["Min-Expires", String(MIN_EXPIRES)]]);
    const expires = Math.min(requested, MAX_EXPIRES);
    const contactUri = /<([^>]+)>/.exec(contact)?.[1] ?? contact;
    contacts.set(user, { account: user, contact: contactUri, expiresAtUs: nowUs + expires * 1_000_000 });
    // The Contact carries the seconds left, rounded down: a fresh registration shows expires - 1.
    const registered = respond(from, 200, "OK", [...headers, ["Date", httpDate(nowUs)], ["Contact", `<${contactUri}>;expires=${expires - 1}`], ["Expires", String(expires)]]);
    return { ...registered, delayUs: REGISTERED_DELAY_US };
  };

  /**
   * An authenticated INVITE reaches the dialplan (res_pjsip_session.c): a
   * number the endpoint's context has no extension for is refused 404, with
   * no 100 Trying before it (as Asterisk 22 answers in the lab), and logged
   * (a line fail2ban's asterisk filter reads). The lab's dialplan holds the accounts' extensions only,
   * so every outside number, the toll fraudster's, gets the 404.
   */
  const call = (request: SipMessage, from: Datagram, user: string, nowUs: number): PbxReply[] => {
    const number = /^sips?:([^@;>]+)@/.exec(request.requestUri)?.[1] ?? "";
    const headers = responseHeaders(request, from);
    if (passwordOf(number) !== undefined) return [{ ...respond(from, 603, "Decline", headers), delayUs: CALL_ANSWER_DELAY_US }];
    if (onLog) {
      // As Asterisk 22 writes it in the lab: the endpoint's name after the file, two spaces before it.
      const text = `NOTICE[${ASTERISK_PID}] res_pjsip_session.c:  ${user}: Call (${(from.transport ?? "udp").toUpperCase()}:${from.src}:${from.sport}) to extension '${number}' rejected because extension not found in context 'default'.`;
      onLog({ atUs: nowUs, address: from.src, port: from.sport, reason: "extension not found", text });
    }
    return [{ ...respond(from, 404, "Not Found", headers), delayUs: CALL_ANSWER_DELAY_US }];
  };

  const subscribe = (request: SipMessage, from: Datagram): PbxReply[] => {
    const toTag = request.viaBranch || newTag();
    const expires = Math.min(Number(request.header("expires") ?? "600"), MAX_EXPIRES);
    const ok = respond(from, 200, "OK", [...responseHeaders(request, from), ["Expires", String(expires)]]);
    const notify = reply(
      from,
      formatRequest(
        "NOTIFY",
        /<([^>]+)>/.exec(request.header("contact") ?? "")?.[1] ?? `sip:${request.fromUser}@${from.src}:${from.sport}`,
        [
          ["Via", `SIP/2.0/UDP ${spec.address}:${spec.port};rport;branch=z9hG4bKPj${md5Hex(`${secret}:notify:${++notifyCounter}`).slice(0, 20)}`],
          ["From", `${request.header("to") ?? ""};tag=${toTag}`],
          ["To", request.header("from") ?? ""],
          ["Call-ID", request.callId],
          ["CSeq", `${notifyCounter} NOTIFY`],
          ["Event", request.header("event") ?? "dialog"],
          ["Subscription-State", `active;expires=${expires}`],
          ["Content-Type", "application/dialog-info+xml"],
          ["Max-Forwards", "70"],
        ],
        `<?xml version="1.0"?>\n<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="full" entity="${request.requestUri}"/>\n`,
      ),
    );
    return [ok, { ...notify, delayUs: NOTIFY_DELAY_US }];
  };

  /**
   * INVITE transactions whose final answer is still being sent, by the peer and the branch the ACK of a
   * non-2xx answer shares with its INVITE: whether that ACK came. Timer H ends each (its last send), so
   * only the transactions in flight are held, whatever ACKs arrive for others.
   */
  const inviteTransactions = new Map<string, { acknowledged: boolean }>();
  const transactionOf = (request: SipMessage, from: Datagram) => `${from.src}:${from.sport}:${request.viaBranch}:${request.callId}`;
  /** An INVITE's final answer, then its retransmissions until the ACK. */
  const untilAcknowledged = (request: SipMessage, from: Datagram, replies: PbxReply[]): PbxReply[] => {
    const key = transactionOf(request, from);
    const transaction = { acknowledged: false };
    inviteTransactions.set(key, transaction);
    const last = INVITE_RETRANSMIT_AFTER_US.length - 1;
    const resend = (index: number) => () => {
      if (index === last && inviteTransactions.get(key) === transaction) inviteTransactions.delete(key);
      return transaction.acknowledged;
    };
    return replies.flatMap((answer) => [answer, ...INVITE_RETRANSMIT_AFTER_US.map((afterUs, index) => ({ ...answer, delayUs: answer.delayUs + afterUs, unlessAcknowledged: resend(index) }))]);
  };

  return {
    receive(datagram: Datagram, nowUs: number): readonly PbxReply[] {
      const request = parseSip(datagram.payload);
      // PJSIP drops what it cannot parse and never answers a response or an ACK; an ACK ends its INVITE's retransmissions.
      if (request?.kind === "request" && request.method === "ACK") {
        const transaction = inviteTransactions.get(transactionOf(request, datagram));
        if (transaction) transaction.acknowledged = true;
      }
      if (!request || request.kind !== "request" || request.method === "ACK") return [];
      // endpoint_lookup: a From user that is no endpoint gets the artificial endpoint, logged before anything else.
      const known = passwordOf(request.fromUser) !== undefined;
      const report = (name: SecurityEventName) => onSecurityEvent?.({ address: datagram.src, port: datagram.sport, name });
      if (!known) {
        logFailure(request, datagram, nowUs, "No matching endpoint found");
        report("InvalidAccountID");
      }
      switch (request.method) {
        case "OPTIONS":
          return [respond(datagram, 200, "OK", [...responseHeaders(request, datagram), ["Allow", ALLOW], ["Accept", "application/sdp"]])];
        case "REGISTER":
        case "SUBSCRIBE":
        case "INVITE":
        case "MESSAGE": {
          const credentials = checkCredentials(request, nowUs);
          if (!credentials.valid) {
            // authenticate(): credentials that fail, the artificial endpoint's always, are logged; none are challenged quietly.
            if (credentials.failed) logFailure(request, datagram, nowUs, "Failed to authenticate");
            report(credentials.failed ? "ChallengeResponseFailed" : "ChallengeSent");
            return [challenge(request, datagram, nowUs, credentials.stale)];
          }
          report("SuccessfulAuth");
          if (request.method === "REGISTER") return [register(request, datagram, credentials.user, nowUs)];
          if (request.method === "SUBSCRIBE") return subscribe(request, datagram);
          // Timer G resends over UDP only: TCP (and TLS) delivers the answer or breaks the connection.
          if (request.method === "INVITE") return datagram.transport ? call(request, datagram, credentials.user, nowUs) : untilAcknowledged(request, datagram, call(request, datagram, credentials.user, nowUs));
          return [respond(datagram, 404, "Not Found", responseHeaders(request, datagram))];
        }
        default:
          return [respond(datagram, 405, "Method Not Allowed", [...responseHeaders(request, datagram), ["Allow", ALLOW]])];
      }
    },
    registrations(nowUs: number): Registration[] {
      return [...contacts.values()].filter((registration) => registration.expiresAtUs > nowUs);
    },
  };
}

/** The run starts at a fixed wall-clock date so Date headers and nonces are reproducible. */
const RUN_EPOCH_MS = Date.UTC(2026, 0, 1);
const RUN_EPOCH_SECONDS = RUN_EPOCH_MS / 1000;

function httpDate(nowUs: number): string {
  return new Date(RUN_EPOCH_MS + Math.floor(nowUs / 1000)).toUTCString();
}
