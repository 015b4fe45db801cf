// Bindings the vitest config adds on top of the Worker's own Env.
declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import('cloudflare:test').D1Migration[];
    TEST_HISTORY_MIGRATIONS: import('cloudflare:test').D1Migration[];
  }
}
