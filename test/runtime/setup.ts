// Applies the D1 migrations (accounts database and history shards) before each runtime test file (idempotent: applied ones are skipped).
import { applyD1Migrations } from 'cloudflare:test';
import { env } from 'cloudflare:workers';

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
// Every history shard has the same schema.
await Promise.all([env.HISTORY_0, env.HISTORY_1].map((db) => applyD1Migrations(db, env.TEST_HISTORY_MIGRATIONS)));
