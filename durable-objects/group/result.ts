/**
 * How the group object reports refusals over RPC: a plain result value (RPC keeps it typed,
 * whereas a thrown error arrives as a bare Error), built from a thrown `GroupError` internally.
 */
import type { ErrorCode } from '../../protocol/index.ts';

export type GroupResult<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; message: string | null };

/** A refusal inside the group object: becomes `{ ok: false, code }` at the RPC boundary. */
export class GroupError extends Error {
  constructor(
    readonly code: ErrorCode,
    message?: string,
  ) {
    super(message ?? code);
    this.name = 'GroupError';
  }
}

/** Run a group operation, turning a `GroupError` into a refusal (anything else still throws). */
export async function settle<T>(operation: () => T | Promise<T>): Promise<GroupResult<T>> {
  try {
    return { ok: true, value: await operation() };
  } catch (error) {
    if (error instanceof GroupError) return { ok: false, code: error.code, message: error.message === error.code ? null : error.message };
    throw error;
  }
}
