import { spawn } from "node:child_process";

/**
 * How far ahead of its time a raw datagram is handed to the sender. Handed
 * over at its time, a replay's first packet after seconds of an idle sender
 * reached the firewall 2 to 3 ms late on an idle machine and 8.7 ms late in
 * a loaded CI run: python woke a millisecond or more after the pipe write
 * (more under load), then ran its cold path. Given the time instead, it is
 * awake and ready when the packet is due.
 */
export const RAW_LEAD_US = 20_000;

/**
 * Python sleeps until SPIN_NS before a packet's time and waits busy from
 * there: a timer's wake-up under load is late by about what a pipe's is.
 * Everything a send needs (bytes, socket, address) is ready before the wait.
 * Each send's times go back once stdin closes, so the run is not woken by them.
 */
const RAW_SENDER = [
  "import socket, sys, time",
  "s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)",
  // IPPROTO_RAW over IPv6 sends the header as given too (IPV6_HDRINCL).
  "s6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)",
  "now = time.monotonic_ns",
  "SPIN_NS = 1_500_000",
  "sent = []",
  "print('ready', flush=True)",
  "for line in sys.stdin:",
  "    at_text, hex_text = line.split()",
  "    data = bytes.fromhex(hex_text)",
  "    if data[0] >> 4 == 6: sock, to = s6, (socket.inet_ntop(socket.AF_INET6, data[24:40]), 0)",
  "    else: sock, to = s, (socket.inet_ntoa(data[16:20]), 0)",
  "    at = int(at_text)",
  "    wait = at - now()",
  "    if wait > SPIN_NS: time.sleep((wait - SPIN_NS) / 1e9)",
  "    while now() < at: pass",
  "    before = now()",
  "    sock.sendto(data, to)",
  "    sent.append(f'{before} {now()}')",
  "sys.stdout.write(''.join(line + '\\n' for line in sent))",
  "sys.stdout.flush()",
].join("\n");

/** When a raw datagram left: CLOCK_MONOTONIC ns just before its sendto and when the call returned. */
export type RawSendTimes = (beforeNs: bigint, afterNs: bigint) => void;

export interface RawSender {
  /** Sends an IP datagram as it is (TTL, ID, options, fragments) at atNs on CLOCK_MONOTONIC, or at once if that has passed. */
  send(datagram: Uint8Array, atNs: bigint, sent: RawSendTimes): void;
  /** Waits for every queued datagram to leave, then hands each its times, in the order they were queued. */
  close(): Promise<void>;
}

/** Starts python3 with raw IPv4 and IPv6 sockets; resolves once they are open. */
export async function startRawSender(): Promise<RawSender> {
  const sender = spawn("python3", ["-c", RAW_SENDER], { stdio: ["pipe", "pipe", "inherit"] });
  const pending: RawSendTimes[] = [];
  let output = "";
  await new Promise<void>((resolve, reject) => {
    sender.once("error", reject);
    sender.once("exit", (code) => reject(new Error(`the raw IP sender (python3) exited with code ${code} before it was ready`)));
    const ready = (chunk: Buffer) => {
      output += chunk.toString("latin1");
      if (!output.includes("\n")) return;
      output = output.slice(output.indexOf("\n") + 1);
      sender.stdout.off("data", ready);
      resolve();
    };
    sender.stdout.on("data", ready);
  });
  sender.removeAllListeners("exit");
  // A sender that died (its error is on the runner's stderr) refuses further writes: close() says so, once.
  sender.stdin.on("error", () => undefined);
  sender.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("latin1")));
  // "close", not "exit": every report has been read once the pipes have closed.
  const exited = new Promise<number | null>((resolve) => sender.once("close", (code) => resolve(code)));
  return {
    send(datagram, atNs, sent) {
      pending.push(sent);
      sender.stdin.write(`${atNs} ${Buffer.from(datagram).toString("hex")}\n`);
    },
    async close() {
      sender.stdin.end();
      const code = await exited;
      const lines = output.split("\n").filter((line) => line !== "");
      if (code !== 0 || lines.length !== pending.length) throw new Error(`the raw IP sender (python3) exited with code ${code} after reporting ${lines.length} of ${pending.length} sends`);
      for (const [index, line] of lines.entries()) {
        const [before, after] = line.split(" ");
        pending[index]!(BigInt(before!), BigInt(after!));
      }
    },
  };
}
