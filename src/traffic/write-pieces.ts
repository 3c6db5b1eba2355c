/**
 * A TCP write as its sender cut it (Datagram.segments): each cut's length in
 * order, the last piece taking the rest. Both engines send the pieces as
 * writes of their own, so a firewall sees each in a segment of its own.
 */
export function piecesOfWrite(payload: Uint8Array, cuts: readonly number[] = []): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let offset = 0;
  for (const cut of cuts) {
    if (offset >= payload.length) break;
    pieces.push(payload.subarray(offset, Math.min(payload.length, offset + cut)));
    offset += cut;
  }
  if (offset < payload.length) pieces.push(payload.subarray(offset));
  return pieces;
}
