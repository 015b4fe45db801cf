/**
 * The wire protocol: every WebSocket frame and HTTP body, defined once with runtime validation.
 * Imported by the Worker, the Durable Objects, the SDK and the clients; imports none of them.
 * Documented for humans in docs/PROTOCOL.md.
 */
export * from './errors.ts';
export * from './limits.ts';
export * from './rate-limits.ts';
export * from './text.ts';
export * from './messages.ts';
export * from './groups.ts';
export * from './contacts.ts';
export * from './presence.ts';
export * from './account.ts';
export * from './frames.ts';
export * from './large-groups.ts';
export * from './media.ts';
export * from './http.ts';
export * from './search.ts';
