/** One packet record of a capture, before any decoding. */
export interface CapturedFrame {
  /** 0-based index in the file. */
  readonly index: number;
  /** Capture time in nanoseconds since the epoch (bigint: nanosecond pcaps need more than 2^53). */
  readonly timestampNs: bigint;
  /**
   * The same time as whole seconds since the epoch and the nanoseconds past
   * them, numbers, where the format stores it so (pcap's records): a reader
   * of millions of frames subtracts these without making a bigint a frame.
   */
  readonly epochSeconds?: number;
  readonly nanoseconds?: number;
  /** Link-layer type of the interface it was captured on (LINKTYPE_*). */
  readonly linkType: number;
  /** The bytes captured (may be shorter than the packet on the wire). */
  readonly data: Uint8Array;
  /** Length of the packet on the wire. */
  readonly originalLength: number;
  /** File offset of the record, for messages. */
  readonly offset: number;
  readonly comment?: string;
}

/** Problems that were safe to skip, counted so nothing is dropped silently. */
export interface CaptureWarnings {
  /** "packet longer than the snap length" -> count, with the first offset. */
  readonly counts: Map<string, { count: number; firstOffset: number }>;
}

export function newWarnings(): CaptureWarnings {
  return { counts: new Map() };
}

export function warn(warnings: CaptureWarnings, kind: string, offset: number): void {
  const known = warnings.counts.get(kind);
  if (known) known.count++;
  else warnings.counts.set(kind, { count: 1, firstOffset: offset });
}

export function describeWarnings(warnings: CaptureWarnings): string[] {
  return [...warnings.counts].map(([kind, { count, firstOffset }]) => `${count} x ${kind} (first at byte ${firstOffset})`);
}
