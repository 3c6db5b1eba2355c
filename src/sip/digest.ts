import { createHash } from "node:crypto";

/**
 * HTTP digest authentication as SIP uses it (RFC 2617 with qop=auth, MD5),
 * the only scheme Asterisk's PJSIP offers by default.
 */

export interface DigestChallenge {
  readonly realm: string;
  readonly nonce: string;
  readonly opaque?: string;
  readonly algorithm?: string;
  readonly qop?: string;
  readonly stale?: boolean;
}

export interface DigestCredentials {
  readonly username: string;
  readonly realm: string;
  readonly nonce: string;
  readonly uri: string;
  readonly response: string;
  readonly algorithm?: string;
  readonly opaque?: string;
  readonly qop?: string;
  readonly nc?: string;
  readonly cnonce?: string;
}

export function md5Hex(text: string): string {
  return createHash("md5").update(text).digest("hex");
}

/** The `response` value: MD5(HA1:nonce[:nc:cnonce:qop]:HA2). */
export function digestResponse(input: {
  username: string;
  password: string;
  realm: string;
  method: string;
  uri: string;
  nonce: string;
  qop?: string;
  nc?: string;
  cnonce?: string;
}): string {
  const ha1 = md5Hex(`${input.username}:${input.realm}:${input.password}`);
  const ha2 = md5Hex(`${input.method}:${input.uri}`);
  if (input.qop === "auth") return md5Hex(`${ha1}:${input.nonce}:${input.nc}:${input.cnonce}:auth:${ha2}`);
  return md5Hex(`${ha1}:${input.nonce}:${ha2}`);
}

/** Answers a challenge as a phone does: qop=auth when offered, nc counting from 1. */
export function answerChallenge(
  challenge: DigestChallenge,
  request: { username: string; password: string; method: string; uri: string; cnonce: string; nc: number },
): DigestCredentials {
  const qop = challenge.qop?.split(",").map((value) => value.trim()).includes("auth") ? "auth" : undefined;
  const nc = qop ? request.nc.toString(16).padStart(8, "0") : undefined;
  const cnonce = qop ? request.cnonce : undefined;
  const response = digestResponse({ ...request, realm: challenge.realm, nonce: challenge.nonce, qop, nc, cnonce });
  return {
    username: request.username,
    realm: challenge.realm,
    nonce: challenge.nonce,
    uri: request.uri,
    response,
    algorithm: challenge.algorithm ?? "MD5",
    ...(challenge.opaque !== undefined ? { opaque: challenge.opaque } : {}),
    ...(qop ? { qop, nc, cnonce } : {}),
  };
}

/** `Digest realm="x",nonce="y",...` -> its parameters; null for another scheme. */
export function parseDigestParameters(headerValue: string): Record<string, string> | null {
  const match = /^\s*Digest\s+(.*)$/is.exec(headerValue);
  if (!match) return null;
  const parameters: Record<string, string> = {};
  const pattern = /([A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))\s*(?:,|$)/g;
  let part: RegExpExecArray | null;
  while ((part = pattern.exec(match[1]!)) !== null) {
    parameters[part[1]!.toLowerCase()] = part[2] !== undefined ? part[2].replace(/\\(.)/g, "$1") : part[3]!;
  }
  return parameters;
}

export function parseChallenge(headerValue: string): DigestChallenge | null {
  const parameters = parseDigestParameters(headerValue);
  if (!parameters?.realm || !parameters.nonce) return null;
  return {
    realm: parameters.realm,
    nonce: parameters.nonce,
    ...(parameters.opaque !== undefined ? { opaque: parameters.opaque } : {}),
    ...(parameters.algorithm !== undefined ? { algorithm: parameters.algorithm } : {}),
    ...(parameters.qop !== undefined ? { qop: parameters.qop } : {}),
    ...(parameters.stale !== undefined ? { stale: parameters.stale.toLowerCase() === "true" } : {}),
  };
}

export function formatChallenge(challenge: DigestChallenge): string {
  const parts = [`realm="${challenge.realm}"`, `nonce="${challenge.nonce}"`];
  if (challenge.opaque !== undefined) parts.push(`opaque="${challenge.opaque}"`);
  if (challenge.stale) parts.push("stale=true");
  parts.push(`algorithm=${challenge.algorithm ?? "MD5"}`);
  if (challenge.qop !== undefined) parts.push(`qop="${challenge.qop}"`);
  return `Digest ${parts.join(",")}`;
}

export function formatCredentials(credentials: DigestCredentials): string {
  const parts = [
    `username="${credentials.username}"`,
    `realm="${credentials.realm}"`,
    `nonce="${credentials.nonce}"`,
    `uri="${credentials.uri}"`,
    `response="${credentials.response}"`,
    `algorithm=${credentials.algorithm ?? "MD5"}`,
  ];
  if (credentials.cnonce !== undefined) parts.push(`cnonce="${credentials.cnonce}"`);
  if (credentials.opaque !== undefined) parts.push(`opaque="${credentials.opaque}"`);
  if (credentials.qop !== undefined) parts.push(`qop=${credentials.qop}`, `nc=${credentials.nc}`);
  return `Digest ${parts.join(", ")}`;
}
