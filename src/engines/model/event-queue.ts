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

  push(atUs: number, action: () => void): void {
    const heap = this.heap;
    heap.push({ atUs, sequence: this.sequence++, action });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
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
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
        if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
        i = smallest;
      }
    }
    return top;
  }
}

function before(a: Entry, b: Entry): boolean {
  return a.atUs < b.atUs || (a.atUs === b.atUs && a.sequence < b.sequence);
}
