import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EventQueue } from "../../../src/engines/model/event-queue.js";

describe("the model's agenda", () => {
  it("runs events by time and, at the same microsecond, in the order they were scheduled, whatever is pushed between pops", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.record({ push: fc.integer({ min: 0, max: 40 }) }), fc.constant({ pop: true })), { maxLength: 400 }), (steps) => {
        const queue = new EventQueue();
        const pending: Array<{ atUs: number; order: number }> = [];
        let scheduled = 0;
        for (const step of steps) {
          if ("push" in step) {
            const order = scheduled++;
            pending.push({ atUs: step.push, order });
            queue.push(step.push, () => order);
          } else {
            pending.sort((a, b) => a.atUs - b.atUs || a.order - b.order);
            const expected = pending.shift();
            const entry = queue.pop();
            expect(entry ? { atUs: entry.atUs, order: entry.action() } : undefined).toEqual(expected);
          }
          expect(queue.size).toBe(pending.length);
        }
      }),
      { numRuns: 300 },
    );
  });
});
