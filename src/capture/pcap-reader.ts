import { CaptureError } from "./capture-error.js";
import type { CapturedFrame, CaptureWarnings } from "./captured-frame.js";
import { warn } from "./captured-frame.js";
import type { ChunkedFile } from "./chunked-file.js";
import { isSupportedLinkType, linkTypeName, supportedLinkTypeList } from "./link-types.js";

/** Wireshark's largest packet (WTAP_MAX_PACKET_SIZE_STANDARD): a record claiming more is corruption, not data. */
export const MAX_RECORD_BYTES = 262_144;

export interface ReadOptions {
  /** A capture cut off mid-packet (tcpdump killed) ends with a warning instead of an error. */
  readonly allowTruncated?: boolean;
}

/**
 * Classic libpcap files: microsecond (a1b2c3d4) and nanosecond (a1b23c4d)
 * magic, in either byte order. The header's link type applies to every record.
 */
export function readPcap(file: ChunkedFile, warnings: CaptureWarnings, options: ReadOptions): AsyncGenerator<CapturedFrame[]> {
  return inBatches(file, (batch) => pcapRecords(file, warnings, options, batch));
}

/**
 * A reader's frames handed on in batches, one promise a batch rather than a
 * frame. `records` puts frames in the batch and yields it when it holds
 * BATCH_FRAMES and before it moves the window (`ensure`), so a batch's frames
 * are valid until the next batch is asked for; what is left when it ends or
 * fails is handed on before the end or the error.
 */
export async function* inBatches(file: ChunkedFile, records: (batch: CapturedFrame[]) => AsyncGenerator<CapturedFrame[]>): AsyncGenerator<CapturedFrame[]> {
  const batch: CapturedFrame[] = [];
  try {
    for await (const full of records(batch)) {
      yield full.splice(0);
    }
    if (batch.length > 0) yield batch.splice(0);
  } catch (error) {
    if (batch.length > 0) yield batch.splice(0);
    throw error;
  } finally {
    // Ended, failed or abandoned by the consumer: the file is closed either way.
    await file.close();
  }
}

/** Frames a batch holds at most: few enough that they die young (a window's thousands outlived a scavenge and made collections a third of inspecting). */
export const BATCH_FRAMES = 128;

/** Makes `count` bytes available, handing on the batch first when the window has to move. */
export async function* ensureAfterBatch(file: ChunkedFile, count: number, batch: CapturedFrame[]): AsyncGenerator<CapturedFrame[], boolean> {
  if (file.available >= count) return true;
  if (batch.length > 0) yield batch;
  return file.ensure(count);
}

async function* pcapRecords(file: ChunkedFile, warnings: CaptureWarnings, options: ReadOptions, batch: CapturedFrame[]): AsyncGenerator<CapturedFrame[]> {
  if (!(file.available >= 24 || (await file.ensure(24)))) throw new CaptureError("CAPTURE_TRUNCATED", `${file.path}: the file ends inside the 24-byte pcap header (${file.available} bytes)`, file.offset);
  const magicBig = file.view.getUint32(0, false);
  const littleEndian = magicBig === 0xd4c3b2a1 || magicBig === 0x4d3cb2a1;
  const nanosecond = magicBig === 0xa1b23c4d || magicBig === 0x4d3cb2a1;
  const snapLength = file.view.getUint32(16, littleEndian);
  const linkField = file.view.getUint32(20, littleEndian);
  const linkType = linkField & 0xffff;
  if (!isSupportedLinkType(linkType)) {
    throw new CaptureError(
      "CAPTURE_LINKTYPE",
      `${file.path}: link type ${linkType} (${linkTypeName(linkType)}) at byte 20 is not supported; slamlab reads ${supportedLinkTypeList()}. Capture on the PBX's Ethernet interface or with "tcpdump -i any"`,
      20,
    );
  }
  file.position += 24;
  // The seconds' part as a bigint is made once per second of capture, not once a frame: a record costs one
  // bigint for its fraction and one for the sum.
  let secondsOf = -1;
  let secondsNs = 0n;
  const scale = nanosecond ? 1 : 1000;
  const timestampOf = (seconds: number, nanoseconds: number) => {
    if (seconds !== secondsOf) {
      secondsOf = seconds;
      secondsNs = BigInt(seconds) * 1_000_000_000n;
    }
    return secondsNs + BigInt(nanoseconds);
  };
  const fractionLimit = nanosecond ? 1_000_000_000 : 1_000_000;
  for (let index = 0; ; index++) {
    if (!(file.available >= 16 || (yield* ensureAfterBatch(file, 16, batch)))) {
      if (file.available === 0) return;
      endMidRecord(file, `the record header of packet ${index + 1}`, index, options, warnings);
      return;
    }
    const recordOffset = file.offset;
    const view = file.view;
    const at = file.position;
    const seconds = view.getUint32(at, littleEndian);
    const fraction = view.getUint32(at + 4, littleEndian);
    const includedLength = view.getUint32(at + 8, littleEndian);
    const originalLength = view.getUint32(at + 12, littleEndian);
    if (includedLength > MAX_RECORD_BYTES) {
      throw new CaptureError(
        "CAPTURE_CORRUPT",
        `${file.path}: packet ${index + 1} at byte ${recordOffset} claims ${includedLength} bytes, more than any capture holds (${MAX_RECORD_BYTES}); the file is corrupt from here`,
        recordOffset,
      );
    }
    if (fraction >= fractionLimit) warn(warnings, `timestamp fraction out of range (${nanosecond ? "ns" : "µs"})`, recordOffset);
    if (snapLength > 0 && includedLength > snapLength) warn(warnings, "packet longer than the snap length", recordOffset);
    if (includedLength > originalLength) warn(warnings, "captured length above the length on the wire", recordOffset);
    if (!(file.available >= 16 + includedLength || (yield* ensureAfterBatch(file, 16 + includedLength, batch)))) {
      endMidRecord(file, `the packet data of packet ${index + 1}`, index, options, warnings);
      return;
    }
    const start = file.position + 16;
    const data = file.bytes.subarray(start, start + includedLength);
    file.position = start + includedLength;
    const nanoseconds = fraction * scale;
    if (batch.push({ index, timestampNs: timestampOf(seconds, nanoseconds), epochSeconds: seconds, nanoseconds, linkType, data, originalLength, offset: recordOffset }) >= BATCH_FRAMES) yield batch;
  }
}

/**
 * A capture that ends mid-record (tcpdump killed while writing): an error that
 * says where, or with --allow-truncated a counted warning and the intact records.
 */
export function endMidRecord(file: ChunkedFile, where: string, recordsBefore: number, options: ReadOptions, warnings: CaptureWarnings): void {
  const offset = file.offset;
  if (options.allowTruncated) {
    warn(warnings, "capture cut short in the middle of a packet (rest ignored)", offset);
    return;
  }
  throw new CaptureError(
    "CAPTURE_TRUNCATED",
    `${file.path}: the capture ends inside ${where} at byte ${offset} (${file.available} bytes left); the ${recordsBefore} packets before it are intact: pass --allow-truncated to use them`,
    offset,
  );
}
