import { CaptureError } from "./capture-error.js";
import { newWarnings, type CapturedFrame, type CaptureWarnings } from "./captured-frame.js";
import { ChunkedFile } from "./chunked-file.js";
import { readPcap, type ReadOptions } from "./pcap-reader.js";
import { readPcapng } from "./pcapng-reader.js";

export type CaptureFormat = "pcap" | "pcap-ns" | "pcapng";

/**
 * Any capture slamlab reads, as one async iterator of frames. Memory stays
 * flat in the file size: frames are views into a 1 MiB window, valid until
 * the next iteration (copy `data` to keep it).
 */
export interface Capture extends AsyncIterable<CapturedFrame> {
  /** The same frames a window at a time, for readers of millions of them: valid until the next batch. */
  batches(): AsyncIterable<readonly CapturedFrame[]>;
  readonly path: string;
  readonly format: CaptureFormat;
  /** Counted, skipped problems; read after iterating. */
  readonly warnings: CaptureWarnings;
}

export async function openCapture(path: string, options: ReadOptions = {}): Promise<Capture> {
  const file = await ChunkedFile.open(path);
  let format: CaptureFormat;
  try {
    if (!(await file.ensure(4))) throw new CaptureError("CAPTURE_EMPTY", `${path}: ${file.available === 0 ? "the file is empty" : "too short for a capture"}`, 0);
    format = formatOf(file.view.getUint32(0, false), path);
  } catch (error) {
    await file.close();
    throw error;
  }
  const warnings = newWarnings();
  // The readers close the file when they end, fail or are abandoned (their finally blocks).
  const batches = () => (format === "pcapng" ? readPcapng(file, warnings, options) : readPcap(file, warnings, options));
  return {
    path,
    format,
    warnings,
    batches,
    async *[Symbol.asyncIterator]() {
      for await (const batch of batches()) yield* batch;
    },
  };
}

function formatOf(magic: number, path: string): CaptureFormat {
  switch (magic) {
    case 0xa1b2c3d4:
    case 0xd4c3b2a1:
      return "pcap";
    case 0xa1b23c4d:
    case 0x4d3cb2a1:
      return "pcap-ns";
    case 0x0a0d0d0a:
      return "pcapng";
    default: {
      const hint =
        magic === 0x7b0a2020 || magic >>> 24 === 0x7b
          ? " (it looks like JSON)"
          : (magic & 0xffffff00) === 0x3c3f786d
            ? " (it looks like XML)"
            : magic === 0x1f8b0800 || magic >>> 16 === 0x1f8b
              ? " (it is gzip-compressed: gunzip it first)"
              : "";
      throw new CaptureError(
        "CAPTURE_FORMAT",
        `${path}: not a pcap or pcapng file: magic 0x${magic.toString(16).padStart(8, "0")} at byte 0${hint}; save the capture as pcap or pcapng (tcpdump -w, Wireshark "Save As")`,
        0,
      );
    }
  }
}
