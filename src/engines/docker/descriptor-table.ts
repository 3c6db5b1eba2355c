import { closeSync, openSync } from "node:fs";

/**
 * Descriptors a traffic runner makes room for before time 0: a flood from
 * random source ports binds a socket per packet, a few thousand in a run.
 */
export const RUNNER_DESCRIPTORS = 16_384;

/**
 * Grows the process's descriptor table to hold `count` descriptors, by
 * opening that many and closing them again (the table never shrinks).
 *
 * Linux doubles the table when a new descriptor does not fit, and in a
 * threaded process (node is one) each doubling waits for an RCU grace period
 * (expand_fdtable calls synchronize_rcu): the socket bound at the 256th,
 * 512th, 1,024th and 2,048th descriptor took 6 to 20 ms, and the packet it
 * carried reached the firewall that late, at the same points of every run.
 * Done before time 0, the waits cost nothing that is timed. Stops quietly at
 * the process's descriptor limit: the table is then as large as it can be.
 */
export function growDescriptorTable(count: number): void {
  const opened: number[] = [];
  try {
    while (opened.length < count) opened.push(openSync("/dev/null", "r"));
  } catch {
    // EMFILE: the limit is below count.
  } finally {
    for (const descriptor of opened) closeSync(descriptor);
  }
}
