/**
 * Local fault injection (lib/faults.ts) for queues: after a batch was consumed, send it again
 * now and then, so every consumer meets the at-least-once delivery production has (a batch
 * redelivered after its consumer did the work, late and mixed with newer jobs).
 */
import { FAULT_LOG_PREFIX, faultInjectionOn } from '../../lib/faults.ts';

/** Share of consumed batches sent again. */
export const DUPLICATE_SHARE = 0.3;

/**
 * Send a copy of `batch` back to its queue (`producer`, delayed 0–2 s) with probability
 * DUPLICATE_SHARE when fault injection is on; otherwise nothing.
 */
export async function duplicateSometimes(batch: MessageBatch<unknown>, env: Env, producer: Queue): Promise<void> {
  if (!faultInjectionOn(env) || batch.messages.length === 0 || Math.random() >= DUPLICATE_SHARE) return;
  await producer.sendBatch(batch.messages.map((m) => ({ body: m.body, delaySeconds: Math.floor(Math.random() * 3) })));
  // warn: seen at every wrangler log level the tests run with (WRANGLER_LOG=info hides console.log).
  console.warn(`${FAULT_LOG_PREFIX} queue batch duplicated (${batch.queue}, ${batch.messages.length} jobs)`);
}
