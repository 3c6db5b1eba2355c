import { existsSync, readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { growDescriptorTable } from "../../../src/engines/docker/descriptor-table.js";

const tableSize = () => Number(/^FDSize:\s+(\d+)/m.exec(readFileSync("/proc/self/status", "utf8"))![1]);
const openDescriptors = () => readdirSync("/proc/self/fd").length;

describe.runIf(existsSync("/proc/self/status"))("a traffic runner's descriptor table", () => {
  it("has room for the descriptors asked for, and none of them is left open", () => {
    const openBefore = openDescriptors();
    growDescriptorTable(5000);
    // The kernel rounds the table up to a power of two.
    expect(tableSize()).toBeGreaterThanOrEqual(8192);
    expect(openDescriptors()).toBe(openBefore);
  });
});
