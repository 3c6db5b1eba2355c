/**
 * The virtual clock's agenda: a binary heap of (time, sequence) so events at
 * the same microsecond run in the order they were scheduled, which keeps runs
 * deterministic.
 */
interface Entry {
  readonly atUs: number;
  readonly sequence: number;
  readonly action: () => void;
}

export class EventQueue {
  private readonly heap: Entry[] = [];
  private sequence = 0;

  get size(): number {
    return this.heap.length;
  }

  // Both sifts move a hole rather than swapping pairs: one write a level, no temporary arrays.
  push(atUs: number, action: () => void): void {
    const heap = this.heap;
    const entry: Entry = { atUs, sequence: this.sequence++, action };
    let i = heap.length;
    heap.push(entry);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = heap[parent]!;
      if (!before(entry, above)) break;
      heap[i] = above;
      i = parent;
    }
    heap[i] = entry;
  }

  /** Time of the next event, or Infinity when none is left. */
  peekTime(): number {
    return this.heap.length === 0 ? Infinity : this.heap[0]!.atUs;
  }

  pop(): Entry | undefined {
    const heap = this.heap;
    if (heap.length === 0) return undefined;
    const top = heap[0]!;
    const last = heap.pop()!;
    const size = heap.length;
    if (size > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= size) break;
        const right = left + 1;
        const child = right < size && before(heap[right]!, heap[left]!) ? right : left;
        const smaller = heap[child]!;
        if (!before(smaller, last)) break;
        heap[i] = smaller;
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}

function before(a: Entry, b: Entry): boolean {
  return a.atUs < b.atUs || (a.atUs === b.atUs && a.sequence < b.sequence);
}
