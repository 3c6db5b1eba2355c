import { sipMethodOf } from "./sip-method-of.js";

/**
 * SIP over a stream (RFC 3261 18.3): messages follow one another with no
 * boundaries but their own, the blank line after the headers and the body's
 * Content-Length. Bytes go in as the stream gives them (a message split
 * across segments, several in one); whole messages come out. CRLF keepalives
 * between messages (RFC 5626's "\r\n\r\n" ping) are skipped.
 */
export class SipStreamFramer {
  private buffered: Uint8Array = new Uint8Array(0);

  push(bytes: Uint8Array): Uint8Array[] {
    const joined = new Uint8Array(this.buffered.length + bytes.length);
    joined.set(this.buffered);
    joined.set(bytes, this.buffered.length);
    const messages: Uint8Array[] = [];
    let start = 0;
    for (;;) {
      while (start < joined.length && (joined[start] === 0x0d || joined[start] === 0x0a)) start++;
      const headerEnd = indexOfBlankLine(joined, start);
      if (headerEnd < 0) break;
      const end = headerEnd + 4 + contentLength(joined.subarray(start, headerEnd));
      if (end > joined.length) break;
      messages.push(joined.slice(start, end));
      start = end;
    }
    this.buffered = joined.slice(start);
    return messages;
  }

  /** Bytes of a message not yet complete. */
  get pending(): number {
    return this.buffered.length;
  }
}

function indexOfBlankLine(bytes: Uint8Array, from: number): number {
  for (let i = from; i + 3 < bytes.length; i++) {
    if (bytes[i] === 0x0d && bytes[i + 1] === 0x0a && bytes[i + 2] === 0x0d && bytes[i + 3] === 0x0a) return i;
  }
  return -1;
}

/** Content-Length (or its compact form l:); a stream message without one has no body. */
function contentLength(header: Uint8Array): number {
  const text = new TextDecoder("latin1").decode(header);
  const match = /\r\n(?:content-length|l)[ \t]*:[ \t]*(\d+)/i.exec(`\r\n${text}`);
  return match ? Number(match[1]) : 0;
}

/**
 * The SIP requests in one write to a connection (several when written
 * together; a piece of one cut by the sender is the whole write's): what a
 * stream source sent, which its segments and records do not tell.
 */
export function requestsInWrite(payload: Uint8Array): number {
  return new SipStreamFramer().push(payload).filter((message) => {
    const method = sipMethodOf(message);
    return method !== null && !/^\d/.test(method);
  }).length;
}
