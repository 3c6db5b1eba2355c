import { EventQueue } from "../model/event-queue.js";

/**
 * The last stretch before an action is a busy wait: a turn of the event loop
 * takes tens of µs in a busy container, enough to carry a send across a
 * jiffy boundary.
 */
const SPIN_US = 300;
/**
 * The longest single timer. Linux lets a poll's timeout expire late by 0.1%
 * of its length (select_estimate_accuracy, up to 100 ms): a runner idle from
 * time 0 to a replay at 10 s woke 6.7 ms late. Sleeping in steps of at most
 * 20 ms keeps that under 20 µs.
 */
const MAX_TIMER_MS = 20;

/**
 * The traffic container's agenda on the wall clock: actions run at their
 * microsecond (or where aimUs puts them), in the order the model's virtual
 * clock would run them. It sleeps with timers until a millisecond before an
 * action, yields turns until the last SPIN_US, then waits busy: sends
 * precise to a few µs without a busy core. An action
 * scheduled while it sleeps (a BLF burst after the 200 arrives, a
 * retransmission timer) wakes it if it falls before the moment it sleeps
 * towards; it used to wait for that moment and leave in a burst.
 */
export class WallClockAgenda {
  private readonly queue = new EventQueue();
  private sleepingUntilUs = Number.POSITIVE_INFINITY;
  private wakeEarly: (() => void) | null = null;
  /** The scheduled time of the action running now, null between actions. */
  runningScheduledUs: number | null = null;

  /**
   * @param aimUs when to run an action scheduled at atUs (the identity, or
   *   early in its jiffy: planned-send-time.ts). It must not decrease with atUs:
   *   actions keep their scheduled order.
   */
  constructor(
    private readonly nowUs: () => number,
    private readonly endUs: number,
    private readonly aimUs: (atUs: number) => number = (atUs) => atUs,
  ) {}

  at(atUs: number, action: () => void): void {
    if (atUs > this.endUs) return;
    this.queue.push(Math.max(atUs, 0), action);
    if (this.aimUs(atUs) < this.sleepingUntilUs) this.wakeEarly?.();
  }

  /** When the action running now was aimed at. */
  get runningAimUs(): number | null {
    return this.runningScheduledUs === null ? null : this.aimUs(this.runningScheduledUs);
  }

  /** Runs every action due up to the end, then returns at the end. */
  async run(): Promise<void> {
    for (;;) {
      // at() keeps nothing past the end, so an empty queue is the only reason to sleep towards it.
      if (this.queue.size === 0) {
        await this.sleepUntil(this.endUs);
        if (this.nowUs() >= this.endUs) return;
        continue;
      }
      await this.sleepUntil(this.aimUs(this.queue.peekTime()));
      while (this.queue.size > 0 && this.aimUs(this.queue.peekTime()) <= this.nowUs()) {
        const entry = this.queue.pop()!;
        this.runningScheduledUs = entry.atUs;
        entry.action();
        this.runningScheduledUs = null;
      }
    }
  }

  private sleepUntil(atUs: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let turn: ReturnType<typeof setImmediate> | undefined;
      const done = () => {
        clearTimeout(timer);
        if (turn) clearImmediate(turn);
        this.sleepingUntilUs = Number.POSITIVE_INFINITY;
        this.wakeEarly = null;
        resolve();
      };
      const check = () => {
        const remainingUs = atUs - this.nowUs();
        if (remainingUs <= 0) done();
        else if (remainingUs > 2000) timer = setTimeout(check, Math.min(Math.floor(remainingUs / 1000) - 1, MAX_TIMER_MS));
        else if (remainingUs > SPIN_US) turn = setImmediate(check);
        else {
          while (this.nowUs() < atUs);
          done();
        }
      };
      this.sleepingUntilUs = atUs;
      this.wakeEarly = done;
      check();
    });
  }
}
