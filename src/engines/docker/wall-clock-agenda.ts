import { EventQueue } from "../model/event-queue.js";

/**
 * The traffic container's agenda on the wall clock: actions run at their
 * microsecond, in the order the model's virtual clock would run them. It
 * sleeps with timers until a millisecond before an action, then yields turns
 * until the moment: sub-millisecond sends without a busy core. An action
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

  constructor(
    private readonly nowUs: () => number,
    private readonly endUs: number,
  ) {}

  at(atUs: number, action: () => void): void {
    if (atUs > this.endUs) return;
    this.queue.push(Math.max(atUs, 0), action);
    if (atUs < this.sleepingUntilUs) this.wakeEarly?.();
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
      await this.sleepUntil(this.queue.peekTime());
      while (this.queue.size > 0 && this.queue.peekTime() <= this.nowUs()) {
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
        else if (remainingUs > 2000) timer = setTimeout(check, Math.floor(remainingUs / 1000) - 1);
        else turn = setImmediate(check);
      };
      this.sleepingUntilUs = atUs;
      this.wakeEarly = done;
      check();
    });
  }
}
