import { randomBytes } from "node:crypto";
import { accessSync, constants, lstatSync, readlinkSync, realpathSync, statSync, writeSync, type Stats } from "node:fs";
import { mkdir, open, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";

/** One file a command writes, and the option that named it (for messages). */
export interface OutputTarget {
  readonly flag: string;
  readonly path: string;
}

/**
 * Where an output's bytes go. "replace": a regular file or nothing is there, so
 * the file is written beside it and renamed over it (no half-written report).
 * "write-into": a character device, FIFO or terminal is there; it is opened and
 * written, never replaced (`--json /dev/null` must leave /dev/null a device).
 */
export interface PlannedOutput extends OutputTarget {
  readonly destination: string;
  readonly mode: "replace" | "write-into";
  /** One of this process's own descriptors (/dev/stdout, /proc/self/fd/N): written to directly, as a socket cannot be opened by path. */
  readonly descriptor?: number;
}

export class OutputError extends Error {
  readonly code = "OUTPUT_PATH";
}

/**
 * Symlinks followed by hand, so a dangling link names the file it would
 * create. A link under /proc (/dev/stdout is one) names an open descriptor of
 * this process: it is written through, never resolved and replaced, or a
 * shell's `> file` would lose the report to a file renamed over its own.
 */
function followLinks(path: string, flag: string): { destination: string; descriptor: boolean } {
  let current = resolve(path);
  for (let hops = 0; hops < 40; hops++) {
    let stats: Stats;
    try {
      stats = lstatSync(current);
    } catch {
      return { destination: current, descriptor: false };
    }
    if (!stats.isSymbolicLink()) return { destination: current, descriptor: false };
    if (current.startsWith("/proc/")) return { destination: current, descriptor: true };
    current = resolve(dirname(current), readlinkSync(current));
  }
  throw new OutputError(`${flag} ${path}: too many levels of symbolic links`);
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** The nearest existing folder an absent file would be created under; it must be a folder we can write. */
function checkCreatable(destination: string, target: OutputTarget): void {
  let ancestor = dirname(destination);
  while (statOrNull(ancestor) === null && dirname(ancestor) !== ancestor) ancestor = dirname(ancestor);
  const stats = statOrNull(ancestor);
  if (!stats?.isDirectory()) throw new OutputError(`${target.flag} ${target.path}: ${ancestor} is not a folder; give a path inside a folder`);
  try {
    accessSync(ancestor, constants.W_OK);
  } catch (error) {
    throw new OutputError(`${target.flag} ${target.path}: cannot write in ${ancestor} (${reason(error)}); give a path in a folder you can write`);
  }
}

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const known: Record<string, string> = {
    EACCES: "permission denied",
    EPERM: "operation not permitted",
    EROFS: "read-only file system",
    ENOSPC: "no space left on the device",
    EISDIR: "it is a folder",
    ENOTDIR: "a part of the path is not a folder",
    EDQUOT: "disk quota exceeded",
    EIO: "input/output error",
  };
  return (code && known[code]) ?? (error as Error).message;
}

/** A file's identity, so `--json scenario.yaml` is caught through links and `./` spellings alike. */
function identity(path: string): string {
  const stats = statOrNull(path);
  if (stats) return `${stats.dev}:${stats.ino}`;
  let parent: string;
  try {
    parent = realpathSync(dirname(path));
  } catch {
    parent = dirname(path);
  }
  return join(parent, basename(path));
}

function planOne(target: OutputTarget): PlannedOutput {
  const { destination, descriptor } = followLinks(target.path, target.flag);
  const stats = statOrNull(destination);
  const ownDescriptor = descriptor ? new RegExp(`^/proc/(self|${process.pid})/fd/(\\d+)$`).exec(destination) : null;
  if (ownDescriptor && stats && !stats.isDirectory() && !stats.isBlockDevice()) return { ...target, destination, mode: "write-into", descriptor: Number(ownDescriptor[2]) };
  if (stats?.isDirectory()) throw new OutputError(`${target.flag} ${target.path}: is a folder; give a file path${target.path === destination ? "" : ` (it leads to ${destination})`}`);
  if (stats && (descriptor || stats.isCharacterDevice() || stats.isFIFO()) && !stats.isSocket() && !stats.isBlockDevice()) return { ...target, destination, mode: "write-into" };
  if (stats === null || stats.isFile()) {
    checkCreatable(stats === null ? destination : join(dirname(destination), "x"), target);
    return { ...target, destination, mode: "replace" };
  }
  const kind = stats.isBlockDevice() ? "a block device (a disk)" : "a socket";
  throw new OutputError(`${target.flag} ${target.path}: is ${kind}; slamlab does not write there, give a file path`);
}

/**
 * Checks every output of a command before it does any work: each is a file we
 * can create or replace, or a device we write into; none is one of the
 * command's inputs and no two outputs are the same file. Throws OutputError
 * (bad input, exit 2) naming the option and the path.
 */
export function planOutputs(targets: readonly OutputTarget[], inputs: readonly string[] = []): PlannedOutput[] {
  const planned = targets.map(planOne);
  const inputIds = new Map(inputs.map((input) => [identity(followLinks(input, "input").destination), input]));
  const seen = new Map<string, PlannedOutput>();
  for (const output of planned) {
    const id = identity(output.destination);
    const input = inputIds.get(id);
    if (input !== undefined) throw new OutputError(`${output.flag} ${output.path}: is also an input of this command (${input}); write the output to another path`);
    const earlier = seen.get(id);
    // Two writes into /dev/null harm nothing; two reports into one file lose one of them.
    if (earlier && !(output.mode === "write-into" && statOrNull(output.destination)?.isCharacterDevice()))
      throw new OutputError(`${earlier.flag} and ${output.flag} both write ${output.path}; give each output its own path`);
    seen.set(id, output);
  }
  return planned;
}

/** Folders made for an output, removed again if the outputs cannot all be written. */
async function makeParent(destination: string, made: string[]): Promise<void> {
  const first = await mkdir(dirname(destination), { recursive: true });
  if (first !== undefined) made.push(first);
}

/**
 * Writes planned outputs all or nothing where the file system allows: every
 * replaced file is staged beside its target first; devices are written next;
 * the staged files are renamed into place only when everything else worked.
 * A failure removes what was staged and the folders made for it.
 */
export async function writeOutputs(files: readonly { output: PlannedOutput; data: OutputData }[]): Promise<void> {
  const staged: { temporary: string; output: PlannedOutput }[] = [];
  const madeFolders: string[] = [];
  let current: PlannedOutput | undefined;
  try {
    for (const { output, data } of files.filter((file) => file.output.mode === "replace")) {
      current = output;
      await makeParent(output.destination, madeFolders);
      const temporary = join(dirname(output.destination), `.${basename(output.destination)}.${randomBytes(4).toString("hex")}.tmp`);
      staged.push({ temporary, output });
      await writeData(temporary, data, "w");
    }
    for (const { output, data } of files.filter((file) => file.output.mode === "write-into")) {
      current = output;
      if (output.descriptor !== undefined) await writeToDescriptor(output.descriptor, data);
      // Appending: a device ignores it, and a shell's `> file` behind /dev/stdout keeps what was printed before.
      else await writeData(output.destination, data, "a");
    }
    for (const { temporary, output } of staged) {
      current = output;
      await rename(temporary, output.destination);
    }
  } catch (error) {
    await Promise.all(staged.map(({ temporary }) => rm(temporary, { force: true })));
    for (const folder of madeFolders.reverse()) await rm(folder, { recursive: true, force: true });
    const where = current ? `${current.flag} ${current.path}` : "output";
    throw new OutputError(`${where}: cannot write (${reason(error)}); give a path you can write`);
  }
}

/** What an output holds: text, bytes, or text in chunks (a report too long for one string). */
export type OutputData = string | Uint8Array | Iterable<string>;

async function writeData(path: string, data: OutputData, flag: "w" | "a"): Promise<void> {
  if (typeof data === "string" || data instanceof Uint8Array) return writeFile(path, data, { flag });
  const handle = await open(path, flag);
  try {
    for (const chunk of data) await handle.write(chunk);
  } finally {
    await handle.close();
  }
}

async function writeToDescriptor(descriptor: number, data: OutputData): Promise<void> {
  // What the command already printed to this stream goes first.
  const stream = descriptor === 1 ? process.stdout : descriptor === 2 ? process.stderr : null;
  if (stream) await new Promise((resolve) => stream.write("", resolve));
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const chunks = typeof data === "string" || data instanceof Uint8Array ? [data] : data;
  for (const chunk of chunks) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    for (let offset = 0; offset < bytes.length; ) {
      try {
        offset += writeSync(descriptor, bytes, offset);
      } catch (error) {
        // Node keeps pipes and sockets non-blocking: a full one says EAGAIN until its reader catches up.
        if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
        Atomics.wait(pause, 0, 0, 2);
      }
    }
  }
}
