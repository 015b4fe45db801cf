/**
 * Keeps a device's messages in order across rate limiting. Budgets refill continuously, so
 * without this a send refused for want of a token could be overtaken by the next one pipelined
 * behind it (arriving a moment later, when the token is there): the recipient would get them out
 * of order. After a refusal, the device's other sends are refused too until the refused one is
 * sent again and passes, or until the device evidently gave up on it (`graceMs` after the wait).
 */

type Blocked = { clientId: string; retryAt: number; until: number };

export class SendGate {
  readonly #blocked = new Map<string, Blocked>();

  constructor(private readonly graceMs = 30_000) {}

  /**
   * When `clientId` from `device` must wait behind an earlier refused send: the ms until that one
   * may be sent again (at least 1), or null when it may be tried now.
   *
   * @example
   * gate.waitBehind('dev1', 'm-502', now) // 180: m-501 was refused first
   */
  waitBehind(device: string, clientId: string, now: number): number | null {
    const blocked = this.#blocked.get(device);
    if (blocked === undefined) return null;
    if (blocked.until <= now) {
      this.#blocked.delete(device);
      return null;
    }
    return blocked.clientId === clientId ? null : Math.max(1, blocked.retryAt - now);
  }

  /** A send was refused for `retryAfterMs`: the device's later sends wait behind it. */
  refused(device: string, clientId: string, retryAfterMs: number, now: number): void {
    const blocked = this.#blocked.get(device);
    if (blocked !== undefined && blocked.clientId !== clientId && blocked.until > now) return;
    this.#blocked.set(device, { clientId, retryAt: now + retryAfterMs, until: now + retryAfterMs + this.graceMs });
  }

  /** A send passed: if it was the one others waited behind, they may go. */
  passed(device: string, clientId: string): void {
    if (this.#blocked.get(device)?.clientId === clientId) this.#blocked.delete(device);
  }
}
