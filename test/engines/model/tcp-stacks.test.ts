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
  return { stacks, seen, delivered, run };
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

  it("sends a dropped SYN again after 1, 2, 4 s... (tcp_syn_retries 6), and data only once the handshake is done", () => {
    const { stacks, seen, delivered, run } = lab({ drop: (segment, fromClient, atUs) => fromClient && atUs < 3_500_000 });
    stacks.write("198.18.1.1", 40000, 5060, REGISTER);
    run();
    const syns = seen.filter((segment) => segment.flags === TCP_SYN).map((segment) => segment.atMs);
    expect(syns).toEqual([0, 1000, 3000, 7000]);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.atMs).toBeGreaterThan(7000);
  });

  it("sends dropped data again after 200 ms, then 400 ms, until it passes", () => {
    let dataDropped = 0;
    const { stacks, seen, delivered, run } = lab({ drop: (segment, fromClient) => fromClient && segment.payload.length > 0 && dataDropped++ < 2 });
    stacks.write("198.18.1.1", 40000, 5060, REGISTER);
    run();
    const data = seen.filter((segment) => segment.length > 0).map((segment) => Math.round(segment.atMs));
    expect(data).toEqual([0, 200, 600]);
    expect(delivered).toHaveLength(1);
  });

  it("answers a SYN to a port nothing listens on with an RST, and sends nothing after it", () => {
    const { stacks, seen, delivered, run } = lab({ listening: false });
    stacks.write("198.18.1.1", 40000, 5060, REGISTER);
    run();
    expect(seen.map((segment) => segment.flags)).toEqual([TCP_SYN, TCP_RST | TCP_ACK]);
    expect(delivered).toEqual([]);
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
