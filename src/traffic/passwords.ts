import type { PbxSpec } from "../scenario/schema.js";
import { userSequence } from "../scenario/user-list.js";

/** The password the PBX holds for an account (`{user}` expanded), or undefined for an unknown account. */
export function passwordFor(pbx: PbxSpec, account: string): string | undefined {
  for (const entry of pbx.accounts) {
    if (userSequence(entry.users).includes(account)) return entry.password.replaceAll("{user}", account);
  }
  return undefined;
}
