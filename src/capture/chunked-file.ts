import { open, type FileHandle } from "node:fs/promises";
import { CaptureError } from "./capture-error.js";

const CHUNK_BYTES = 1 << 20;

/**
 * A file read in 1 MiB chunks: parsers look at `bytes` from `position` and
 * only await when they need more than is buffered, so memory stays flat in
 * the file size and the hot path is synchronous.
 */
export class ChunkedFile {
  bytes: Uint8Array = new Uint8Array(0);
  view: DataView = new DataView(this.bytes.buffer);
  /** Read position inside `bytes`. */
  position = 0;
  /** File offset of bytes[0]. */
  private base = 0;
  private ended = false;
  private storage: Uint8Array | null = null;
  private spare: Uint8Array | null = null;

  private constructor(
    private readonly handle: FileHandle,
    readonly path: string,
  ) {}

  static async open(path: string): Promise<ChunkedFile> {
    try {
      const handle = await open(path, "r");
      // Linux opens a folder for reading; only the first read fails.
      if ((await handle.stat()).isDirectory()) {
        await handle.close();
        throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
      }
      return new ChunkedFile(handle, path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (error as Error).message;
      throw new CaptureError("CAPTURE_NOT_FOUND", `${path}: ${reason}`);
    }
  }

  /** File offset of the read position. */
  get offset(): number {
    return this.base + this.position;
  }

  get available(): number {
    return this.bytes.length - this.position;
  }

  /** Makes `count` bytes available from the read position; false at end of file (fewer bytes left). */
  async ensure(count: number): Promise<boolean> {
    while (this.available < count && !this.ended) {
      const keep = this.available;
      // Two buffers in turn: the frames of the previous window stay readable for one more step,
      // and nothing grows with the file.
      const size = Math.max(CHUNK_BYTES, count * 2);
      let next = this.spare;
      if (!next || next.length < size) next = new Uint8Array(size);
      next.set(this.bytes.subarray(this.position), 0);
      const { bytesRead } = await this.handle.read(next, keep, next.length - keep, null);
      if (bytesRead === 0) this.ended = true;
      this.base += this.position;
      this.spare = this.storage;
      this.storage = next;
      this.bytes = next.subarray(0, keep + bytesRead);
      this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
      this.position = 0;
    }
    return this.available >= count;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
