import type { MatchFactory } from "../match.js";
import { MatchOptions } from "./match-options.js";

/** XT_MAX_COMMENT_LEN is 256 including the terminating NUL (xt_comment.h). */
const MAX_COMMENT_BYTES = 255;

export const commentMatch: MatchFactory = (rawOptions, _state, where) => {
  const options = new MatchOptions("comment", rawOptions, where);
  const comment = options.value("comment") ?? "";
  if (new TextEncoder().encode(comment).length > MAX_COMMENT_BYTES) throw options.error(`--comment is longer than ${MAX_COMMENT_BYTES} bytes`);
  return () => true;
};
