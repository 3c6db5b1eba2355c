import { createHash } from "node:crypto";
import {
  IAX_AUTH_MD5,
  IaxCommand,
  IaxIe,
  FRAME_TYPE_IAX,
  addressElement,
  byteElement,
  decodeFullFrame,
  elementOf,
  elementShort,
  elementString,
  encodeFullFrame,
  intElement,
  shortElement,
  stringElement,
  type InformationElement,
  type IaxFullFrame,
} from "../../iax2/iax2-frame.js";
import type { PbxSpec } from "../../scenario/schema.js";
import { userSequence } from "../../scenario/user-list.js";
import type { Datagram } from "../../traffic/agent.js";
import { ASTERISK_PID, type Registration, type SecurityLogLine } from "./asterisk-pbx.js";
import type { PbxModel, PbxReply } from "./pbx.js";

/**
 * Asterisk 22's chan_iax2 answering registrations, with iax.conf as the lab
 * writes it (a peer per account, `type=friend`, `host=dynamic`, `auth=md5`,
 * `authdebug=yes`, everything else default). From chan_iax2.c:
 *  - call tokens are required (requirecalltoken's default): a REGREQ without
 *    a CALLTOKEN element is refused REGREJ, an empty one gets a CALLTOKEN
 *    frame with "<time>?<sha1 of address, port, time, a secret>", and a token
 *    is good for 10 s (`calltokendelay`) from that address and port; only a
 *    REGREQ with a good token opens a call. The secret is random per
 *    Asterisk process, so a token from a capture is refused (REGREJ); so is
 *    a REGREQ, with no token, for a call that no longer exists;
 *  - register_verify: a known peer is challenged REGAUTH (AUTHMETHODS md5, a
 *    decimal challenge, the user name), then its REGREQ with MD5_RESULT =
 *    md5(challenge + secret) is answered REGACK (refresh clamped to
 *    min/maxregexpire, both 60 s) or REGREJ "Registration Refused" at once
 *    (delayreject's default is off); an unknown peer is challenged alike, so
 *    a scanner cannot tell it from a known one, and refused at its answer;
 *  - with authdebug a failed answer is logged "Host A failed MD5
 *    authentication for 'P' (x != y)" and an unknown peer "No registration
 *    for peer 'P' (from A)": lines fail2ban's asterisk filter reads.
 * A refused REGREQ is acknowledged (ACK) before its REGREJ; REGAUTH,
 * REGACK and REGREJ are sent reliably, again at 2 s and then every 10 s
 * (attempt_transmit: twice the first ping time, then ten times longer, at
 * most 10 s) until the client acknowledges them, four times at most.
 */

const REPLY_DELAY_US = 600;
/** When a frame nobody acknowledged is sent again, after the first send (max_retries 4). */
const RETRANSMIT_AFTER_US = [2_000_000, 12_000_000, 22_000_000, 32_000_000];
/** A closed call's last retransmission is over by then; an open one's first unanswered frame has run out of retries (42 s) and the call is gone. */
const CALL_LINGER_US = 45_000_000;
/** Each call sends a LAGRQ every lagrqtime (10 s) and a PING every pingtime (21 s) while it lives, each sent reliably (send_lagrq, send_ping). */
const LAGRQ_EVERY_US = 10_000_000;
const PING_EVERY_US = 21_000_000;
/** A frame unacknowledged after its last retry destroys the call (attempt_transmit, max_retries 4): 42 s after the REGAUTH nobody answers. */
const UNANSWERED_CALL_DIES_AFTER_US = 42_000_000;
const CALLTOKEN_DELAY_SECONDS = 10;
const MIN_REG_EXPIRE = 60;
const MAX_REG_EXPIRE = 60;
/** AST_CAUSE_FACILITY_REJECTED, the cause code of a REGREJ. */
const CAUSE_FACILITY_REJECTED = 29;

interface IaxCall {
  readonly callNumber: number;
  readonly peerAddress: string;
  readonly peerPort: number;
  readonly peerCall: number;
  readonly openedUs: number;
  challenge: string;
  outSeq: number;
  inSeq: number;
  /** The in-sequence number the client last sent: every frame of ours below it is acknowledged. */
  acknowledgedUpTo: number;
  /** A final frame (REGACK, REGREJ) went out: the call only waits for its acknowledgement. */
  closedAtUs: number | null;
}

/** Whether the client's in-sequence number says it has our frame `outSeq` (sequence numbers wrap at 256). */
function acknowledged(call: IaxCall, outSeq: number): boolean {
  return ((call.acknowledgedUpTo - outSeq - 1) & 0xff) < 128;
}

export interface Iax2Pbx extends PbxModel {
  /** Peers registered at `nowUs`, as `iax2 show peers` lists them. */
  registrations(nowUs: number): Registration[];
}

/**
 * `processSecret` stands for the random data real chan_iax2 draws at start
 * (randomcalltokendata): the run's own, so tokens in a capture made by
 * another run are refused here as real Asterisk refuses another process's.
 */
export function createIax2Pbx(spec: PbxSpec, port: number, onLog?: (line: SecurityLogLine) => void, processSecret = ""): Iax2Pbx {
  const accounts = spec.accounts.map((account) => ({ users: userSequence(account.users), password: account.password }));
  const secretOf = (peer: string): string | undefined => accounts.find((account) => account.users.includes(peer))?.password.replaceAll("{user}", peer);
  const tokenSecret = createHash("md5").update(`slamlab-iax2:${spec.address}:${processSecret}`).digest("hex");
  const calls = new Map<number, IaxCall>();
  const registered = new Map<string, Registration>();
  let nextCallNumber = 2;
  let challengeCounter = 0;

  /** Tokens this registrar handed out, by address, port and token, with when: a token another Asterisk made (a replayed capture's) fails its hash here, one made for another address too. */
  const issuedTokens = new Map<string, number>();
  const tokenFor = (address: string, sourcePort: number, nowUs: number) => {
    const seconds = wallSeconds(nowUs);
    const token = `${seconds}?${createHash("sha1").update(`${address}:${sourcePort}${seconds}${tokenSecret}`).digest("hex")}`;
    issuedTokens.set(`${address}:${sourcePort} ${token}`, nowUs);
    return token;
  };
  const tokenValid = (token: string, address: string, sourcePort: number, nowUs: number): boolean => {
    const issuedUs = issuedTokens.get(`${address}:${sourcePort} ${token}`);
    return issuedUs !== undefined && wallSeconds(nowUs) - wallSeconds(issuedUs) < CALLTOKEN_DELAY_SECONDS;
  };

  const datagramTo = (from: Datagram, frame: IaxFullFrame): PbxReply => ({
    datagram: { src: spec.address, sport: port, dst: from.src, dport: from.sport, payload: encodeFullFrame(frame) },
    delayUs: REPLY_DELAY_US,
  });
  /** send_apathetic_reply: an answer outside any call (call number 1, out sequence 0). */
  const apathetic = (from: Datagram, request: IaxFullFrame, subclass: number, elements: InformationElement[] = []): PbxReply =>
    datagramTo(from, {
      sourceCall: 1,
      destinationCall: request.sourceCall,
      retransmitted: false,
      timestampMs: request.timestampMs,
      outSeq: 0,
      inSeq: (request.inSeq + 1) & 0xff,
      frameType: FRAME_TYPE_IAX,
      subclass,
      elements,
    });
  /** A frame of the call, sent reliably: again until the client acknowledges it. */
  const inCall = (from: Datagram, call: IaxCall, subclass: number, elements: InformationElement[], nowUs: number): PbxReply[] => {
    const outSeq = call.outSeq & 0xff;
    call.outSeq = (call.outSeq + 1) & 0xff;
    const frame: IaxFullFrame = {
      sourceCall: call.callNumber,
      destinationCall: call.peerCall,
      retransmitted: false,
      timestampMs: Math.max(1, Math.round((nowUs - call.openedUs) / 1000)),
      outSeq,
      inSeq: call.inSeq & 0xff,
      frameType: FRAME_TYPE_IAX,
      subclass,
      elements,
    };
    const first = datagramTo(from, frame);
    const again = datagramTo(from, { ...frame, retransmitted: true });
    return [first, ...RETRANSMIT_AFTER_US.map((afterUs) => ({ ...again, delayUs: REPLY_DELAY_US + afterUs, unlessAcknowledged: () => acknowledged(call, outSeq) }))];
  };
  /**
   * What a call the client leaves after REGAUTH keeps sending until it dies:
   * LAGRQs and PINGs on their timers, each resent until acknowledged, none
   * once the call has ended (its REGACK or REGREJ went out). Their sequence
   * numbers follow the REGAUTH's in the order they leave.
   */
  const keepAlive = (from: Datagram, call: IaxCall, nowUs: number): PbxReply[] => {
    const timers: Array<{ afterUs: number; subclass: number }> = [];
    for (let afterUs = LAGRQ_EVERY_US; afterUs < UNANSWERED_CALL_DIES_AFTER_US; afterUs += LAGRQ_EVERY_US) timers.push({ afterUs, subclass: IaxCommand.LAGRQ });
    for (let afterUs = PING_EVERY_US; afterUs < UNANSWERED_CALL_DIES_AFTER_US; afterUs += PING_EVERY_US) timers.push({ afterUs, subclass: IaxCommand.PING });
    timers.sort((a, b) => a.afterUs - b.afterUs);
    const openedSeq = call.outSeq;
    return timers.flatMap(({ afterUs, subclass }, index) => {
      const outSeq = (openedSeq + index) & 0xff;
      const frame: IaxFullFrame = {
        sourceCall: call.callNumber,
        destinationCall: call.peerCall,
        retransmitted: false,
        timestampMs: Math.round((nowUs + afterUs - call.openedUs) / 1000),
        outSeq,
        inSeq: call.inSeq & 0xff,
        frameType: FRAME_TYPE_IAX,
        subclass,
        elements: [],
      };
      // The call still waits for its client: nothing it sent since ended it or acknowledged this frame.
      const gone = () => call.closedAtUs !== null || acknowledged(call, outSeq);
      const sends = [0, ...RETRANSMIT_AFTER_US].filter((resendUs) => afterUs + resendUs < UNANSWERED_CALL_DIES_AFTER_US);
      return sends.map((resendUs) => ({ ...datagramTo(from, { ...frame, retransmitted: resendUs > 0 }), delayUs: REPLY_DELAY_US + afterUs + resendUs, unlessAcknowledged: gone }));
    });
  };
  /** send_command_immediate's ACK: the request's timestamp, our sequence numbers as they stand. */
  const ack = (from: Datagram, call: IaxCall, request: IaxFullFrame): PbxReply =>
    datagramTo(from, {
      sourceCall: call.callNumber,
      destinationCall: call.peerCall,
      retransmitted: false,
      timestampMs: request.timestampMs,
      outSeq: call.outSeq & 0xff,
      inSeq: call.inSeq & 0xff,
      frameType: FRAME_TYPE_IAX,
      subclass: IaxCommand.ACK,
      elements: [],
    });
  const log = (nowUs: number, from: Datagram, reason: SecurityLogLine["reason"], message: string) =>
    onLog?.({ atUs: nowUs, address: from.src, port: from.sport, reason, text: `NOTICE[${ASTERISK_PID}] chan_iax2.c: ${message}` });

  const openCall = (from: Datagram, request: IaxFullFrame, nowUs: number): IaxCall => {
    // Asterisk takes call numbers from a shuffled pool; any free number does for the firewall.
    while (calls.has(nextCallNumber)) nextCallNumber = nextCallNumber >= 0x7fff ? 2 : nextCallNumber + 1;
    const call: IaxCall = { callNumber: nextCallNumber, peerAddress: from.src, peerPort: from.sport, peerCall: request.sourceCall, openedUs: nowUs, challenge: "", outSeq: 0, inSeq: 0, acknowledgedUpTo: 0, closedAtUs: null };
    nextCallNumber = nextCallNumber >= 0x7fff ? 2 : nextCallNumber + 1;
    calls.set(call.callNumber, call);
    return call;
  };
  const closeCall = (call: IaxCall, nowUs: number) => {
    call.closedAtUs = nowUs;
  };
  let receivedSinceSweep = 0;
  /** Calls whose final frame's retransmissions are over are gone (iax2_destroy). */
  const sweep = (nowUs: number) => {
    for (const [number, call] of calls) if (nowUs - (call.closedAtUs ?? call.openedUs) > CALL_LINGER_US) calls.delete(number);
    for (const [token, issuedUs] of issuedTokens) if (nowUs - issuedUs > (CALLTOKEN_DELAY_SECONDS + 1) * 1_000_000) issuedTokens.delete(token);
  };

  const registrationRequest = (from: Datagram, request: IaxFullFrame, call: IaxCall, nowUs: number): PbxReply[] => {
    const peer = elementString(request, IaxIe.USERNAME) ?? "";
    const md5Result = elementString(request, IaxIe.MD5_RESULT) ?? "";
    // auth_fail sends REGREJ from the scheduler's thread, so socket_process's closing ACK of the request goes first.
    const reject = (): PbxReply[] => {
      const acked = ack(from, call, request);
      const replies = inCall(from, call, IaxCommand.REGREJ, [stringElement(IaxIe.CAUSE, "Registration Refused"), byteElement(IaxIe.CAUSECODE, CAUSE_FACILITY_REJECTED)], nowUs);
      closeCall(call, nowUs);
      return [acked, ...replies];
    };
    if (peer === "") return reject();
    const secret = secretOf(peer);
    const challenge = (): PbxReply[] => {
      call.challenge = String(1_000_000_000 + ((++challengeCounter * 2_654_435_761) % 1_000_000_000));
      return [...inCall(from, call, IaxCommand.REGAUTH, [shortElement(IaxIe.AUTHMETHODS, IAX_AUTH_MD5), stringElement(IaxIe.CHALLENGE, call.challenge), stringElement(IaxIe.USERNAME, peer)], nowUs), ...keepAlive(from, call, nowUs)];
    };
    if (secret === undefined) {
      if (call.challenge === "") return challenge();
      log(nowUs, from, "No registration for peer", `No registration for peer '${peer}' (from ${from.src})`);
      return reject();
    }
    if (call.challenge === "") return challenge();
    if (md5Result === "") return reject();
    const expected = createHash("md5").update(call.challenge + secret).digest("hex");
    if (expected !== md5Result.toLowerCase()) {
      log(nowUs, from, "failed MD5 authentication", `Host ${from.src} failed MD5 authentication for '${peer}' (${expected} != ${md5Result})`);
      return reject();
    }
    // REGREL: update_registry with no address unregisters the peer and acknowledges without refresh or address.
    const elements = [stringElement(IaxIe.USERNAME, peer), intElement(IaxIe.DATETIME, iaxDateTime(nowUs))];
    if (request.subclass === IaxCommand.REGREL) {
      registered.delete(peer);
    } else {
      const refresh = Math.min(MAX_REG_EXPIRE, Math.max(MIN_REG_EXPIRE, elementShort(request, IaxIe.REFRESH) ?? MIN_REG_EXPIRE));
      // expire_registry runs 10 s after the refresh interval.
      registered.set(peer, { account: peer, contact: `iax2:${peer}@${from.src}:${from.sport}`, expiresAtUs: nowUs + (refresh + 10) * 1_000_000 });
      elements.push(shortElement(IaxIe.REFRESH, refresh), addressElement(IaxIe.APPARENT_ADDR, from.src, from.sport));
    }
    const replies = inCall(from, call, IaxCommand.REGACK, elements, nowUs);
    closeCall(call, nowUs);
    return replies;
  };

  return {
    receive(datagram: Datagram, nowUs: number): readonly PbxReply[] {
      const frame = decodeFullFrame(datagram.payload);
      // Mini frames and other frame types belong to calls; a registrar without calls ignores them.
      if (!frame || frame.frameType !== FRAME_TYPE_IAX) return [];
      const existing = frame.destinationCall !== 0 ? calls.get(frame.destinationCall) : undefined;
      if (existing && (existing.peerAddress !== datagram.src || existing.peerPort !== datagram.sport)) return [];
      if (++receivedSinceSweep >= 1024) {
        receivedSinceSweep = 0;
        sweep(nowUs);
      }
      if (existing) {
        existing.acknowledgedUpTo = frame.inSeq;
        if (frame.subclass === IaxCommand.ACK || existing.closedAtUs !== null) return [];
        existing.inSeq = (frame.outSeq + 1) & 0xff;
      }
      switch (frame.subclass) {
        case IaxCommand.ACK:
          return [];
        case IaxCommand.REGREQ:
        case IaxCommand.REGREL: {
          if (existing) return registrationRequest(datagram, frame, existing, nowUs);
          // No call of ours (a new one, or one that is gone): handle_call_token decides, as for a call's first frame.
          const token = elementOf(frame, IaxIe.CALLTOKEN);
          if (!token) return [apathetic(datagram, frame, IaxCommand.REGREJ)];
          if (token.data.length === 0) {
            return [apathetic(datagram, frame, IaxCommand.CALLTOKEN, [stringElement(IaxIe.CALLTOKEN, tokenFor(datagram.src, datagram.sport, nowUs))])];
          }
          if (!tokenValid(new TextDecoder().decode(token.data), datagram.src, datagram.sport, nowUs)) return [apathetic(datagram, frame, IaxCommand.REGREJ)];
          const call = openCall(datagram, frame, nowUs);
          call.inSeq = (frame.outSeq + 1) & 0xff;
          return registrationRequest(datagram, frame, call, nowUs);
        }
        default:
          return [];
      }
    },
    registrations(nowUs: number): Registration[] {
      return [...registered.values()].filter((registration) => registration.expiresAtUs > nowUs);
    },
  };
}

/** The run starts at 2026-01-01 00:00 UTC (as the SIP model's Date headers), in seconds. */
const RUN_EPOCH_SECONDS = Date.UTC(2026, 0, 1) / 1000;

function wallSeconds(nowUs: number): number {
  return RUN_EPOCH_SECONDS + Math.floor(nowUs / 1_000_000);
}

/** iax2_datetime: seconds/2 in bits 0-4, minutes 5-10, hours 11-15, day 16-20, month 21-24, years since 2000 25-31 (UTC here). */
function iaxDateTime(nowUs: number): number {
  const date = new Date(wallSeconds(nowUs) * 1000);
  return (
    ((date.getUTCSeconds() >> 1) |
      (date.getUTCMinutes() << 5) |
      (date.getUTCHours() << 11) |
      (date.getUTCDate() << 16) |
      ((date.getUTCMonth() + 1) << 21) |
      ((date.getUTCFullYear() - 2000) << 25)) >>>
    0
  );
}
