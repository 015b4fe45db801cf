// Applies the D1 migrations before each runtime test file (idempotent: applied ones are skipped).
import { applyD1Migrations } from 'cloudflare:test';
import { env } from 'cloudflare:workers';

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
