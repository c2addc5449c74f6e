/**
 * A failure the sender is told about by email. `userMessage` is written for the sender (what went
 * wrong and what to do); the log gets the technical detail.
 */
import { AirutError, type ErrorCode } from '../errors.ts';

export class UserFacingError extends AirutError {
  readonly userMessage: string;

  constructor(code: ErrorCode, userMessage: string, options: { cause?: unknown } = {}) {
    super(code, userMessage, options);
    this.userMessage = userMessage;
  }
}
