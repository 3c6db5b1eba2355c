/** A policy the generator cannot turn into rules: says where and what is expected. */
export class PolicyError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}
