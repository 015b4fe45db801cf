/**
 * The Worker: every HTTP route of the messenger, composed from small route modules.
 * WebSocket upgrades on `/v1/connect` are handed to the caller's `UserMailbox` Durable Object.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { secureHeaders } from 'hono/secure-headers';
import { MAX_HTTP_BODY_BYTES, PATHS, type Health } from '../protocol/index.ts';
import type { AppEnv } from './app-env.ts';
import { checkDeployment } from './config.ts';
import { ApiError, errorBody, onError } from './errors.ts';
import { rejectMalformedJson } from './validate.ts';
import { accountRoutes } from './routes/account.ts';
import { authRoutes } from './routes/auth.ts';
import { connectRoutes } from './routes/connect.ts';
import { contactRoutes } from './routes/contacts.ts';
import { conversationRoutes } from './routes/conversations.ts';
import { deviceRoutes } from './routes/devices.ts';
import { userRoutes } from './routes/users.ts';

import { groupRoutes } from './routes/groups.ts';
import { inviteRoutes } from './routes/invites.ts';
import { mediaRoutes } from './routes/media.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { presenceRoutes } from './routes/presence.ts';
import { pushRoutes } from './routes/push.ts';
import { sweepExpiredMedia } from './media/sweep.ts';
import { consumeDeadLetters, consumeFanout, FANOUT_DLQ, FANOUT_QUEUE } from './queues/fanout.ts';
import { consumePush, PUSH_DLQ, PUSH_QUEUE } from './queues/push.ts';
import { consumeHistory, HISTORY_DLQ, HISTORY_QUEUE } from './queues/history.ts';
import { searchRoutes } from './routes/search.ts';
import { faultRoutes } from './routes/faults.ts';
import { costRoutes } from './routes/cost.ts';
import { duplicateSometimes } from './queues/faults.ts';

export { UserMailbox } from '../durable-objects/user-mailbox.ts';
export { GroupChat } from '../durable-objects/group-chat.ts';
export { GaugeHub } from '../durable-objects/gauge-hub.ts';

const app = new Hono<AppEnv>();

app.onError(onError);
app.notFound(() => {
  throw new ApiError('not_found');
});

// Before anything else: a deployment with missing or development secrets serves nothing.
app.use('*', async (c, next) => {
  const problems = checkDeployment(c.env);
  if (problems.length > 0) return c.json(errorBody('misconfigured'), 503);
  await next();
});
// API answers are JSON: they may load nothing, be framed by nobody, and leak no referrer.
// (The web client's pages get theirs from web/public/_headers, served with the static assets.)
app.use(
  '*',
  secureHeaders({
    contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"] },
    xFrameOptions: 'DENY',
    referrerPolicy: 'no-referrer',
    xContentTypeOptions: 'nosniff',
    crossOriginResourcePolicy: false,
    crossOriginOpenerPolicy: false,
    crossOriginEmbedderPolicy: false,
  }),
);
app.use(
  '/v1/*',
  cors({
    origin: '*',
    // Range and If-None-Match for media downloads (seeking, resuming, caching).
    allowHeaders: ['Authorization', 'Content-Type', 'Range', 'If-None-Match'],
    exposeHeaders: ['ETag', 'Content-Range', 'Accept-Ranges', 'Content-Disposition', 'Retry-After'],
    maxAge: 600,
  }),
);
// Media uploads stream large non-JSON bodies: routed before the JSON body limit (see routes/media.ts).
app.route('/', mediaRoutes);
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
app.route('/', accountRoutes);
app.route('/', userRoutes);
app.route('/', presenceRoutes);
app.route('/', deviceRoutes);
app.route('/', conversationRoutes);
app.route('/', searchRoutes);
app.route('/', groupRoutes);
app.route('/', inviteRoutes);
app.route('/', contactRoutes);
app.route('/', metricsRoutes);
app.route('/', pushRoutes);
app.route('/', connectRoutes);
app.route('/', faultRoutes);
app.route('/', costRoutes);

export default {
  fetch: app.fetch,
  async queue(batch, env, _ctx) {
    // Not configured for production: keep the jobs for when it is.
    if (checkDeployment(env).length > 0) return batch.retryAll();
    switch (batch.queue) {
      case FANOUT_QUEUE:
        await consumeFanout(batch, env);
        return duplicateSometimes(batch, env, env.GROUP_FANOUT);
      case PUSH_QUEUE:
        await consumePush(batch, env);
        return duplicateSometimes(batch, env, env.PUSH);
      case HISTORY_QUEUE:
        await consumeHistory(batch, env);
        return duplicateSometimes(batch, env, env.HISTORY_ARCHIVE);
      case FANOUT_DLQ:
      case PUSH_DLQ:
      case HISTORY_DLQ:
        return consumeDeadLetters(batch, env);
      default:
        // A queue bound in the config but not handled here: retry rather than lose its jobs.
        console.error(`no consumer for queue ${batch.queue}`);
        batch.retryAll();
    }
  },
  // The Cron Trigger (wrangler.toml [triggers]): expire uploads that never completed.
  async scheduled(controller, env, _ctx) {
    // Not configured for production: touch nothing (checkDeployment logs why).
    if (checkDeployment(env).length > 0) return;
    const { swept } = await sweepExpiredMedia(env, controller.scheduledTime);
    if (swept > 0) console.log(`media sweep: ${swept} expired uploads deleted`);
  },
} satisfies ExportedHandler<Env>;
