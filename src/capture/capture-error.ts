/** A capture slamlab cannot read: says which file, at which byte, and what to do. */
export class CaptureError extends Error {
  readonly code: string;
  readonly offset: number | undefined;
  constructor(code: string, message: string, offset?: number) {
    super(message);
    this.code = code;
    this.offset = offset;
  }
}
