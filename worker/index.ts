/**
 * The Worker: every HTTP route of the messenger, composed from small route modules.
 * WebSocket upgrades on `/v1/connect` are handed to the caller's `UserMailbox` Durable Object.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { MAX_HTTP_BODY_BYTES, PATHS, type Health } from '../protocol/index.ts';
import type { AppEnv } from './app-env.ts';
import { ApiError, onError } from './errors.ts';
import { rejectMalformedJson } from './validate.ts';
import { authRoutes } from './routes/auth.ts';
import { connectRoutes } from './routes/connect.ts';
import { contactRoutes } from './routes/contacts.ts';
import { conversationRoutes } from './routes/conversations.ts';
import { deviceRoutes } from './routes/devices.ts';
import { userRoutes } from './routes/users.ts';

import { groupRoutes } from './routes/groups.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { consumeDeadLetters, consumeFanout, FANOUT_DLQ } from './queues/fanout.ts';

export { UserMailbox } from '../durable-objects/user-mailbox.ts';
export { GroupChat } from '../durable-objects/group-chat.ts';

const app = new Hono<AppEnv>();

app.onError(onError);
app.notFound(() => {
  throw new ApiError('not_found');
});

app.use('/v1/*', cors({ origin: '*', allowHeaders: ['Authorization', 'Content-Type'], maxAge: 600 }));
app.use(
  '/v1/*',
  bodyLimit({
    maxSize: MAX_HTTP_BODY_BYTES,
    onError: () => {
      throw new ApiError('payload_too_large', `Body exceeds ${MAX_HTTP_BODY_BYTES} bytes`);
    },
  }),
);
app.use('/v1/*', rejectMalformedJson);

app.get(PATHS.health, (c) => c.json({ ok: true } satisfies Health));

app.route('/', authRoutes);
app.route('/', userRoutes);
app.route('/', deviceRoutes);
app.route('/', conversationRoutes);
app.route('/', groupRoutes);
app.route('/', contactRoutes);
app.route('/', metricsRoutes);
app.route('/', connectRoutes);

export default {
  fetch: app.fetch,
  async queue(batch, env, _ctx) {
    if (batch.queue === FANOUT_DLQ) await consumeDeadLetters(batch, env);
    else await consumeFanout(batch, env);
  },
} satisfies ExportedHandler<Env>;
