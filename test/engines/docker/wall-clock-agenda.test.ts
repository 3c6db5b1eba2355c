import { describe, expect, it } from "vitest";
import { plannedSendTime } from "../../../src/engines/planned-send-time.js";
import { WallClockAgenda } from "../../../src/engines/docker/wall-clock-agenda.js";

function clock(): () => number {
  const start = performance.now();
  return () => Math.round((performance.now() - start) * 1000);
}

describe("the traffic container's wall-clock agenda", () => {
  it("runs an action scheduled by a reply at its own time, not when the next planned send was due", async () => {
    const nowUs = clock();
    const agenda = new WallClockAgenda(nowUs, 400_000);
    const ran: Array<{ name: string; lateUs: number }> = [];
    const plan = (name: string, atUs: number) => agenda.at(atUs, () => ran.push({ name, lateUs: nowUs() - atUs }));
    plan("next planned send", 300_000);
    // A 200 OK arrives at 20 ms and the phone schedules its BLF burst 10 ms on.
    setTimeout(() => plan("burst", nowUs() + 10_000), 20);
    await agenda.run();
    expect(ran.map((entry) => entry.name)).toEqual(["burst", "next planned send"]);
    // Before the fix the burst left 270 ms late, with the planned send.
    expect(ran[0]!.lateUs).toBeLessThan(20_000);
  });

  it("runs same-moment actions in the order they were scheduled, drops what falls after the end, and returns at the end", async () => {
    const nowUs = clock();
    const agenda = new WallClockAgenda(nowUs, 50_000);
    const order: string[] = [];
    agenda.at(10_000, () => order.push("first"));
    agenda.at(10_000, () => order.push("second"));
    agenda.at(60_000, () => order.push("after the end"));
    await agenda.run();
    expect(order).toEqual(["first", "second"]);
    expect(nowUs()).toBeGreaterThanOrEqual(50_000);
  });

  it("with an aim, runs planned actions early in their jiffy, in their scheduled order", async () => {
    // A 40 ms jiffy keeps the test clear of a busy machine's timer lateness; the lab's is 4 ms.
    const nowUs = clock();
    const agenda = new WallClockAgenda(nowUs, 100_000, (atUs) => plannedSendTime(atUs, 40_000));
    const ran: Array<{ name: string; atUs: number }> = [];
    const plan = (name: string, atUs: number) => agenda.at(atUs, () => ran.push({ name, atUs: nowUs() }));
    plan("later", 79_900);
    plan("earlier", 79_800);
    plan("next jiffy", 80_100);
    await agenda.run();
    expect(ran.map((entry) => entry.name)).toEqual(["earlier", "later", "next jiffy"]);
    // Both near the end of jiffy 1 leave early in it, with most of the jiffy left for lateness.
    expect(ran[0]!.atUs).toBeGreaterThanOrEqual(plannedSendTime(79_800, 40_000));
    expect(ran[1]!.atUs).toBeGreaterThanOrEqual(plannedSendTime(79_900, 40_000));
    expect(ran[1]!.atUs).toBeLessThan(79_800);
    expect(ran[2]!.atUs).toBeGreaterThanOrEqual(plannedSendTime(80_100, 40_000));
  });
});
