import { CaptureError } from "./capture-error.js";
import type { CapturedFrame, CaptureWarnings } from "./captured-frame.js";
import { warn } from "./captured-frame.js";
import type { ChunkedFile } from "./chunked-file.js";
import { isSupportedLinkType, linkTypeName } from "./link-types.js";
import { BATCH_FRAMES, endMidRecord, ensureAfterBatch, inBatches, MAX_RECORD_BYTES, type ReadOptions } from "./pcap-reader.js";

const SECTION_HEADER = 0x0a0d0d0a;
const INTERFACE_DESCRIPTION = 0x00000001;
const OBSOLETE_PACKET = 0x00000002;
const SIMPLE_PACKET = 0x00000003;
const ENHANCED_PACKET = 0x00000006;
/** Blocks that carry nothing slamlab needs: name resolution, statistics, secrets, custom, journal. */
const IGNORED_BLOCKS = new Set([0x00000004, 0x00000005, 0x0000000a, 0x00000009, 0x00000bad, 0x40000bad]);
/** No legitimate block is near this; a larger length is corruption (and must not be allocated). */
const MAX_BLOCK_BYTES = MAX_RECORD_BYTES + 64 * 1024;

interface Interface {
  readonly linkType: number;
  readonly snapLength: number;
  /** Nanoseconds per timestamp unit, as numerator/denominator (if_tsresol). */
  readonly unitNumerator: bigint;
  readonly unitDenominator: bigint;
  readonly offsetNs: bigint;
}

/**
 * pcapng, Wireshark's default: sections (each with its own byte order),
 * interfaces with their own link type and timestamp resolution, enhanced,
 * simple and obsolete packet blocks; other blocks are skipped.
 */
export function readPcapng(file: ChunkedFile, warnings: CaptureWarnings, options: ReadOptions): AsyncGenerator<CapturedFrame[]> {
  return inBatches(file, (batch) => pcapngBlocks(file, warnings, options, batch));
}

async function* pcapngBlocks(file: ChunkedFile, warnings: CaptureWarnings, options: ReadOptions, batch: CapturedFrame[]): AsyncGenerator<CapturedFrame[]> {
  let littleEndian = true;
  let interfaces: Interface[] = [];
  let lastTimestampNs = 0n;
  let index = 0;
  let sawSection = false;
  for (;;) {
    if (!(file.available >= 12 || (yield* ensureAfterBatch(file, 12, batch)))) {
      if (file.available === 0) return;
      endMidRecord(file, "a block", index, options, warnings);
      return;
    }
    const blockOffset = file.offset;
    const at = file.position;
    let type = file.view.getUint32(at, littleEndian);
    if (type === SECTION_HEADER) {
      const magic = file.view.getUint32(at + 8, true);
      if (magic === 0x1a2b3c4d) littleEndian = true;
      else if (magic === 0x4d3c2b1a) littleEndian = false;
      else throw new CaptureError("CAPTURE_CORRUPT", `${file.path}: section header at byte ${blockOffset} has byte-order magic 0x${magic.toString(16)}, not 1a2b3c4d`, blockOffset);
      type = SECTION_HEADER;
      sawSection = true;
      interfaces = [];
    } else if (!sawSection) {
      throw new CaptureError("CAPTURE_CORRUPT", `${file.path}: pcapng must start with a section header block`, blockOffset);
    }
    const length = file.view.getUint32(at + 4, littleEndian);
    if (length < 12 || length % 4 !== 0 || length > MAX_BLOCK_BYTES) {
      throw new CaptureError(
        "CAPTURE_CORRUPT",
        `${file.path}: block at byte ${blockOffset} (type 0x${type.toString(16)}) has length ${length}; a block is a multiple of 4 from 12 to ${MAX_BLOCK_BYTES} bytes: the file is corrupt from here`,
        blockOffset,
      );
    }
    if (!(file.available >= length || (yield* ensureAfterBatch(file, length, batch)))) {
      endMidRecord(file, "a block", index, options, warnings);
      return;
    }
    const view = file.view;
    const start = file.position;
    if (view.getUint32(start + length - 4, littleEndian) !== length) {
      throw new CaptureError("CAPTURE_CORRUPT", `${file.path}: block at byte ${blockOffset} ends with a length that differs from its start (${length}); the file is corrupt`, blockOffset);
    }
    const body = file.bytes.subarray(start + 8, start + length - 4);
    const bodyView = new DataView(body.buffer, body.byteOffset, body.byteLength);
    file.position = start + length;

    if (type === SECTION_HEADER) continue;
    if (type === INTERFACE_DESCRIPTION) {
      if (body.length < 8) throw new CaptureError("CAPTURE_CORRUPT", `${file.path}: interface block at byte ${blockOffset} is too short`, blockOffset);
      interfaces.push(readInterface(bodyView, body, littleEndian));
      continue;
    }
    if (type === ENHANCED_PACKET || type === OBSOLETE_PACKET || type === SIMPLE_PACKET) {
      const frame = readPacketBlock(type, body, bodyView, littleEndian, interfaces, lastTimestampNs, file.path, blockOffset, warnings);
      if (!frame) continue;
      lastTimestampNs = frame.timestampNs;
      if (batch.push({ ...frame, index: index++ }) >= BATCH_FRAMES) yield batch;
      continue;
    }
    if (!IGNORED_BLOCKS.has(type)) warn(warnings, `unknown pcapng block type 0x${type.toString(16)} skipped`, blockOffset);
  }
}

function readInterface(view: DataView, body: Uint8Array, littleEndian: boolean): Interface {
  const linkType = view.getUint16(0, littleEndian);
  const snapLength = view.getUint32(4, littleEndian);
  let unitNumerator = 1000n; // default resolution: microseconds
  let unitDenominator = 1n;
  let offsetNs = 0n;
  for (const [code, value] of options(body, 8, littleEndian)) {
    if (code === 9 && value.length >= 1) {
      const resolution = value[0]!;
      const exponent = BigInt(resolution & 0x7f);
      if (resolution & 0x80) {
        unitNumerator = 1_000_000_000n;
        unitDenominator = 1n << exponent;
      } else if (exponent <= 9n) {
        unitNumerator = 10n ** (9n - exponent);
        unitDenominator = 1n;
      } else {
        unitNumerator = 1n;
        unitDenominator = 10n ** (exponent - 9n);
      }
    } else if (code === 14 && value.length >= 8) {
      offsetNs = new DataView(value.buffer, value.byteOffset, 8).getBigInt64(0, littleEndian) * 1_000_000_000n;
    }
  }
  return { linkType, snapLength, unitNumerator, unitDenominator, offsetNs };
}

function* options(body: Uint8Array, from: number, littleEndian: boolean): Generator<[number, Uint8Array]> {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let at = from;
  while (at + 4 <= body.length) {
    const code = view.getUint16(at, littleEndian);
    const length = view.getUint16(at + 2, littleEndian);
    if (code === 0) return;
    if (at + 4 + length > body.length) return; // a broken option list ends the options, not the file
    yield [code, body.subarray(at + 4, at + 4 + length)];
    at += 4 + ((length + 3) & ~3);
  }
}

function readPacketBlock(
  type: number,
  body: Uint8Array,
  view: DataView,
  littleEndian: boolean,
  interfaces: readonly Interface[],
  lastTimestampNs: bigint,
  path: string,
  blockOffset: number,
  warnings: CaptureWarnings,
): Omit<CapturedFrame, "index"> | null {
  let interfaceId: number;
  let timestamp: bigint | null;
  let capturedLength: number;
  let originalLength: number;
  let dataStart: number;
  if (type === SIMPLE_PACKET) {
    if (body.length < 4) throw new CaptureError("CAPTURE_CORRUPT", `${path}: simple packet block at byte ${blockOffset} is too short`, blockOffset);
    interfaceId = 0;
    timestamp = null;
    originalLength = view.getUint32(0, littleEndian);
    const snap = interfaces[0]?.snapLength || Infinity;
    capturedLength = Math.min(originalLength, snap, body.length - 4);
    dataStart = 4;
  } else {
    const headerLength = type === ENHANCED_PACKET ? 20 : 20;
    if (body.length < headerLength) throw new CaptureError("CAPTURE_CORRUPT", `${path}: packet block at byte ${blockOffset} is too short`, blockOffset);
    interfaceId = type === ENHANCED_PACKET ? view.getUint32(0, littleEndian) : view.getUint16(0, littleEndian);
    timestamp = (BigInt(view.getUint32(4, littleEndian)) << 32n) | BigInt(view.getUint32(8, littleEndian));
    capturedLength = view.getUint32(12, littleEndian);
    originalLength = view.getUint32(16, littleEndian);
    dataStart = 20;
    if (dataStart + capturedLength > body.length) {
      throw new CaptureError("CAPTURE_CORRUPT", `${path}: packet block at byte ${blockOffset} claims ${capturedLength} bytes but holds ${body.length - dataStart}; the file is corrupt`, blockOffset);
    }
  }
  const iface = interfaces[interfaceId];
  if (!iface) throw new CaptureError("CAPTURE_CORRUPT", `${path}: packet block at byte ${blockOffset} names interface ${interfaceId}, which no interface block declared`, blockOffset);
  if (!isSupportedLinkType(iface.linkType)) {
    warn(warnings, `packet on an interface with link type ${iface.linkType} (${linkTypeName(iface.linkType)}) skipped`, blockOffset);
    return null;
  }
  if (iface.snapLength > 0 && capturedLength > iface.snapLength) warn(warnings, "packet longer than the snap length", blockOffset);
  const timestampNs = timestamp === null ? lastTimestampNs : (timestamp * iface.unitNumerator) / iface.unitDenominator + iface.offsetNs;
  let comment: string | undefined;
  if (type === ENHANCED_PACKET) {
    for (const [code, value] of options(body, dataStart + ((capturedLength + 3) & ~3), littleEndian)) {
      if (code === 1) comment = new TextDecoder().decode(value);
    }
  }
  return {
    timestampNs,
    linkType: iface.linkType,
    data: body.subarray(dataStart, dataStart + capturedLength),
    originalLength,
    offset: blockOffset,
    ...(comment !== undefined ? { comment } : {}),
  };
}
