/**
 * The virtual clock's agenda: a binary heap of (time, sequence) so events at
 * the same microsecond run in the order they were scheduled, which keeps runs
 * deterministic.
 *
 * The heap lies in typed columns rather than an object per event: a botnet's
 * every bot has its next send waiting half a second of virtual time, long
 * enough for an event object to outlive the young generation and die old,
 * which the collector pays for in full.
 */
interface Entry {
  readonly atUs: number;
  readonly sequence: number;
  readonly action: () => void;
}

export class EventQueue {
  private times = new Float64Array(1024);
  private sequences = new Float64Array(1024);
  private actions: Array<(() => void) | undefined> = new Array<(() => void) | undefined>(1024).fill(undefined);
  private count = 0;
  private sequence = 0;

  get size(): number {
    return this.count;
  }

  // Both sifts move a hole rather than swapping pairs: one write a level.
  push(atUs: number, action: () => void): void {
    if (this.count === this.times.length) this.grow();
    const { times, sequences, actions } = this;
    const sequence = this.sequence++;
    let i = this.count++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const parentTime = times[parent]!;
      if (!(atUs < parentTime || (atUs === parentTime && sequence < sequences[parent]!))) break;
      times[i] = parentTime;
      sequences[i] = sequences[parent]!;
      actions[i] = actions[parent];
      i = parent;
    }
    times[i] = atUs;
    sequences[i] = sequence;
    actions[i] = action;
  }

  /** Time of the next event, or Infinity when none is left. */
  peekTime(): number {
    return this.count === 0 ? Infinity : this.times[0]!;
  }

  /** Removes the next event and returns its action (its time is peekTime's before the call). */
  take(): () => void {
    const { times, sequences, actions } = this;
    const action = actions[0]!;
    const size = --this.count;
    const lastTime = times[size]!;
    const lastSequence = sequences[size]!;
    const lastAction = actions[size];
    actions[size] = undefined;
    if (size > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= size) break;
        const right = left + 1;
        const child = right < size && (times[right]! < times[left]! || (times[right] === times[left] && sequences[right]! < sequences[left]!)) ? right : left;
        const childTime = times[child]!;
        if (!(childTime < lastTime || (childTime === lastTime && sequences[child]! < lastSequence))) break;
        times[i] = childTime;
        sequences[i] = sequences[child]!;
        actions[i] = actions[child];
        i = child;
      }
      times[i] = lastTime;
      sequences[i] = lastSequence;
      actions[i] = lastAction;
    }
    return action;
  }

  pop(): Entry | undefined {
    if (this.count === 0) return undefined;
    const atUs = this.times[0]!;
    const sequence = this.sequences[0]!;
    return { atUs, sequence, action: this.take() };
  }

  private grow(): void {
    const size = this.times.length * 2;
    const times = new Float64Array(size);
    times.set(this.times);
    const sequences = new Float64Array(size);
    sequences.set(this.sequences);
    this.times = times;
    this.sequences = sequences;
    this.actions.length = size;
    this.actions.fill(undefined, this.count);
  }
}
