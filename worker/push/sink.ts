/**
 * The local sink provider (PUSH_MODE=sink, the default for `npm run dev` and tests): records
 * every push it is given in D1 instead of sending it, readable at GET /v1/push/sink. It serves
 * every platform, so an app registering an APNs or FCM token locally sees what it would get.
 */
import { recordSinkPush } from '../../db/push.ts';
import type { PushProvider } from '../../lib/push-types.ts';

export function createSinkProvider(db: D1Database, now: () => number = Date.now): PushProvider {
  return {
    name: 'sink',
    async send(target, notification) {
      const id = await recordSinkPush(db, target, notification, now());
      return { status: 'sent', id: String(id) };
    },
  };
}
