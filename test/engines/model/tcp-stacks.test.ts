import { describe, expect, it } from "vitest";
import { EventQueue } from "../../../src/engines/model/event-queue.js";
import { TcpStacks, type TcpSegment } from "../../../src/engines/model/tcp-stacks.js";
import { TCP_ACK, TCP_PSH, TCP_RST, TCP_SYN } from "../../../src/net/tcp-segment.js";

const REGISTER = new TextEncoder().encode("REGISTER sip:198.51.100.10 SIP/2.0\r\nContent-Length: 0\r\n\r\n");

interface Seen {
  readonly atMs: number;
  readonly fromClient: boolean;
  readonly flags: number;
  readonly length: number;
  readonly passed: boolean;
}

/** The two stacks on a virtual clock, with a firewall that drops what `drop` says, until `untilUs`. */
function lab(options: { drop?: (segment: TcpSegment, fromClient: boolean, atUs: number) => boolean; listening?: boolean; untilUs?: number } = {}) {
  const queue = new EventQueue();
  let nowUs = 0;
  const seen: Seen[] = [];
  const delivered: Array<{ toClient: boolean; atMs: number; text: string }> = [];
  const stacks = new TcpStacks(
    {
      now: () => nowUs,
      at: (atUs, action) => queue.push(Math.max(atUs, nowUs), action),
      carry: (_connection, fromClient, segment) => {
        const passed = !(options.drop?.(segment, fromClient, nowUs) ?? false);
        seen.push({ atMs: nowUs / 1000, fromClient, flags: segment.flags, length: segment.payload.length, passed });
        return passed;
      },
      deliver: (_connection, toClient, message) => delivered.push({ toClient, atMs: nowUs / 1000, text: new TextDecoder().decode(message) }),
    },
    () => options.listening ?? true,
    () => 0.5,
  );
  const run = () => {
    while (queue.size > 0 && queue.peekTime() <= (options.untilUs ?? 200_000_000)) {
      const entry = queue.pop()!;
      nowUs = entry.atUs;
      entry.action();
    }
  };
  return { stacks, seen, delivered, run, at: (atUs: number, action: () => void) => queue.push(atUs, action) };
}

describe("the model's TCP stacks", () => {
  it("connect with a handshake, carry a message, and ACK each data segment", () => {
    const { stacks, seen, delivered, run } = lab();
    stacks.write("198.18.1.1", 40000, 5060, REGISTER);
    run();
    expect(seen.map((segment) => [segment.fromClient, segment.flags, segment.length])).toEqual([
      [true, TCP_SYN, 0],
      [false, TCP_SYN | TCP_ACK, 0],
      [true, TCP_ACK, 0],
      [true, TCP_PSH | TCP_ACK, REGISTER.length],
      [false, TCP_ACK, 0],
    ]);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.toClient).toBe(false);
  });

  it("cuts a write where asked: the message reaches SIP whole only once both segments have", () => {
    const { stacks, seen, delivered, run } = lab();
    stacks.write("198.18.1.1", 40000, 5060, REGISTER, [4]);
    run();
    expect(seen.filter((segment) => segment.length > 0).map((segment) => segment.length)).toEqual([4, REGISTER.length - 4]);
    expect(delivered.map((message) => message.text)).toEqual([new TextDecoder().decode(REGISTER)]);
  });

  it("sends a dropped SYN again every 1.024 s five times, then after 2.016 s (tcp_syn_linear_timeouts 4, the timer wheel), and data only once the handshake is done", () => {
    const { stacks, seen, delivered, run } = lab({ drop: (segment, fromClient, atUs) => fromClient && atUs < 5_500_000 });
    stacks.write("198.18.1.1", 40000, 5060, REGISTER);
    run();
    const syns = seen.filter((segment) => segment.flags === TCP_SYN).map((segment) => segment.atMs);
    expect(syns).toEqual([0, 1024, 2048, 3072, 4096, 5120, 7136]);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.atMs).toBeGreaterThan(7136);
  });

  it("sends dropped data again after 208 ms, then 416 ms (the lab kernel's RTO, doubling), until it passes", () => {
    let dataDropped = 0;
    const { stacks, seen, delivered, run } = lab({ drop: (segment, fromClient) => fromClient && segment.payload.length > 0 && dataDropped++ < 2 });
    stacks.write("198.18.1.1", 40000, 5060, REGISTER);
    run();
    const data = seen.filter((segment) => segment.length > 0).map((segment) => Math.round(segment.atMs));
    expect(data).toEqual([0, 208, 624]);
    expect(delivered).toHaveLength(1);
  });

  it("answers a SYN to a port nothing listens on with an RST, and sends nothing after it", () => {
    const { stacks, seen, delivered, run } = lab({ listening: false });
    stacks.write("198.18.1.1", 40000, 5060, REGISTER);
    run();
    expect(seen.map((segment) => segment.flags)).toEqual([TCP_SYN, TCP_RST | TCP_ACK]);
    expect(delivered).toEqual([]);
  });

  it("once the PBX answers promptly, its ACK rides on the answer; a request cut in two is ACKed when both pieces are in", () => {
    const { stacks, seen, run, at } = lab();
    const answer = new TextEncoder().encode("SIP/2.0 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
    /** A REGISTER at `atMs`, answered 1 ms later (Asterisk's time to answer), as the segments each side sent. */
    const exchange = (atMs: number, cuts?: number[]) => {
      at(atMs * 1000, () => stacks.write("198.18.1.1", 40000, 5060, REGISTER, cuts));
      at(atMs * 1000 + 1000, () => stacks.reply("198.18.1.1", 40000, 5060, answer));
      run();
      return seen.splice(0).map((segment) => `${segment.fromClient ? ">" : "<"}${segment.length > 0 ? segment.length : "ack"}`);
    };
    // The first exchange: the PBX is not yet interactive, so it ACKs the REGISTER at once, then answers.
    expect(exchange(0)).toEqual([">ack", "<ack", ">ack", `>${REGISTER.length}`, "<ack", `<${answer.length}`, ">ack"]);
    // Now the answer carries the ACK; the phone, which waited, ACKs the answer at once.
    expect(exchange(100)).toEqual([`>${REGISTER.length}`, `<${answer.length}`, ">ack"]);
    expect(exchange(200, [4])).toEqual([">4", `>${REGISTER.length - 4}`, "<ack", `<${answer.length}`, ">ack"]);
  });

  it("after a loss, probes the tail once, then resends only the oldest at the RTO and holds new writes, sent as one segment once all is ACKed", () => {
    const { stacks, seen, run, at } = lab({ drop: (segment, fromClient, atUs) => fromClient && segment.payload.length > 0 && atUs >= 100_000 && atUs < 1_000_000 });
    stacks.write("198.18.1.1", 40000, 5060, REGISTER);
    for (const atMs of [100, 150, 400, 700]) at(atMs * 1000, () => stacks.write("198.18.1.1", 40000, 5060, REGISTER));
    run();
    const data = seen.filter((segment) => segment.fromClient && segment.length > 0).map((segment) => [Math.round(segment.atMs), segment.length / REGISTER.length, segment.passed]);
    expect(data).toEqual([
      [0, 1, true],
      [100, 1, false],
      [150, 1, false],
      // The tail loss probe: the last segment again, two jiffies after it.
      [158, 1, false],
      // The RTO: the oldest again, 208 ms after it was sent, then 416 ms later; the writes at 400 and 700 ms wait.
      [308, 1, false],
      [724, 1, false],
      [1556, 1, true],
      [1556, 1, true],
      [1556, 2, true],
    ]);
  });

  it("answers on the connection the request came in on", () => {
    const { stacks, seen, delivered, run } = lab();
    stacks.write("198.18.1.1", 40000, 5060, REGISTER);
    run();
    stacks.reply("198.18.1.1", 40000, 5060, new TextEncoder().encode("SIP/2.0 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"));
    run();
    expect(delivered.map((message) => [message.toClient, message.text.slice(0, 11)])).toEqual([
      [false, "REGISTER si"],
      [true, "SIP/2.0 401"],
    ]);
    expect(seen.at(-1)).toMatchObject({ fromClient: true, flags: TCP_ACK, length: 0 });
  });
});
