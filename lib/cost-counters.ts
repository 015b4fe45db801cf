/**
 * Cost accounting for the bench (`npm run bench -- --scenario cost`): per Durable Object, how
 * many storage commits, SQL statements, RPCs received and WebSocket frames in and out the work
 * took. Local development only, like fault injection (lib/faults.ts): it needs
 * LOCAL_DEVELOPMENT=true (which only `.dev.vars` sets) *and* LOCAL_COST_COUNTERS=on, which only
 * the bench (a Miniflare binding) or `npm run dev -- --var LOCAL_COST_COUNTERS:on` passes; it
 * is never written to any file. A deployment carrying LOCAL_COST_COUNTERS is refused, by
 * `npm run deploy` and by the Worker itself (worker/config.ts).
 *
 * Switched off, nothing here runs per message: each object asks `costCountersOn` once in its
 * constructor and, when off, keeps the runtime's own `ctx` and its class prototype untouched.
 * Switched on, it installs (once per isolate) counting wrappers:
 *
 * - **statements**: every `ctx.storage.sql.exec` call (reads and writes), through a proxy of the
 *   object's `ctx` whose `storage.sql` counts; `writeStatements` are those that are not
 *   read-only (not SELECT / EXPLAIN / a PRAGMA read; a WITH counts as a write when it contains
 *   INSERT, UPDATE, DELETE or REPLACE). Alarm and key-value writes (`setAlarm`, `deleteAlarm`,
 *   `put`, `delete`, `deleteAll`) are `storageWrites`.
 * - **commits**: workerd commits an object's writes in an implicit transaction that opens at the
 *   first write and closes in a callback queued after the JavaScript turn that wrote (writes
 *   with no `await` between them commit together). JavaScript cannot see that callback, so a
 *   commit is counted two ways that bracket the truth:
 *   - `commits` (the figure reported): JavaScript turns that wrote. A turn is the synchronous
 *     run plus the microtasks queued before it ends: the first write of a turn counts one and
 *     queues a microtask that closes the turn. Never fewer than the real commits (two commits
 *     cannot share one turn: the commit callback cannot run in the middle of JavaScript), but it
 *     counts two where writes were separated only by an `await` of an already settled promise.
 *   - `commitsLow`: timer windows that wrote. The first write opens a window and a
 *     `setTimeout(0)`, which fires only after the runtime's queue of ready work (the commit
 *     among it) has drained, closes it. Never more than the real commits, but it counts one
 *     where other events wrote again between that commit and the timer.
 * - **rpcs**: calls received by the object's public RPC methods (every method of the class but
 *   the runtime's own hooks), from other objects or from the Worker (HTTP routes, queue
 *   consumers): the class prototype's methods are wrapped once.
 * - **framesIn**: `webSocketMessage` calls (heartbeats are answered by the runtime and never
 *   arrive). **framesOut**: every `WebSocket.send` in the isolate (only mailboxes hold sockets).
 *   `WebSocket.prototype.send` is wrapped once.
 *
 * The counts live in this isolate's memory, per object (by name) and summed per kind; locally
 * the Worker and every object share one isolate, so the Worker's route (worker/routes/cost.ts)
 * reads them all. They are bench figures for one local run, not production metrics.
 */

import type { CostKind, CostSnapshot, CostTally } from '../protocol/index.ts';

export type { CostKind, CostSnapshot, CostTally };

/** The variable that turns cost counting on (with LOCAL_DEVELOPMENT=true). */
export const COST_COUNTERS_VAR = 'LOCAL_COST_COUNTERS';

/** Whether this Worker (or object) counts its costs. */
export function costCountersOn(env: object): boolean {
  const vars = env as Record<string, unknown>;
  return vars.LOCAL_DEVELOPMENT === 'true' && vars[COST_COUNTERS_VAR] === 'on';
}

export function emptyTally(): CostTally {
  return { commits: 0, commitsLow: 0, statements: 0, writeStatements: 0, storageWrites: 0, rpcs: 0, framesIn: 0, alarms: 0 };
}

type ObjectCosts = CostTally & { kind: CostKind };

/** Per object name (a re-created object continues its tally). */
const objects = new Map<string, ObjectCosts>();
/** The tally of each live counted instance (RPC and frame wrappers find it through `this`). */
const byInstance = new WeakMap<object, ObjectCosts>();
let framesOut = 0;

/** A snapshot of every count; with `objectName`, that object's too. */
export function costSnapshot(objectName?: string): CostSnapshot {
  const kinds: CostSnapshot['kinds'] = { mailbox: { ...emptyTally(), objects: 0 }, group: { ...emptyTally(), objects: 0 } };
  for (const tally of objects.values()) {
    const sum = kinds[tally.kind];
    sum.objects++;
    for (const key of Object.keys(sum) as Array<keyof CostTally | 'objects'>) if (key !== 'objects') sum[key] += tally[key];
  }
  const snapshot: CostSnapshot = { kinds, framesOut };
  if (objectName !== undefined) {
    const one = objects.get(objectName);
    snapshot.object = one ? { ...one } : null;
  }
  return snapshot;
}

/** Runtime hooks that are not RPC methods. */
const NOT_RPC = new Set(['constructor', 'fetch', 'alarm', 'webSocketMessage', 'webSocketClose', 'webSocketError']);
/** Class prototypes already wrapped (once per isolate). */
const wrapped = new WeakSet<object>();
let sendWrapped = false;

type Method = (this: object, ...args: unknown[]) => unknown;

/** Wrap `proto[name]` so each call first runs `count` with the instance's tally (if it is counted). */
function wrapMethod(proto: Record<string, unknown>, name: string, count: (tally: ObjectCosts) => void): void {
  const original = proto[name];
  if (typeof original !== 'function') return;
  const call = original as Method;
  const counting = function (this: object, ...args: unknown[]): unknown {
    const tally = byInstance.get(this);
    if (tally) count(tally);
    return call.apply(this, args);
  };
  Object.defineProperty(counting, 'name', { value: name });
  proto[name] = counting;
}

/**
 * Wrap the RPC methods (and the frame and alarm hooks) the instance inherits. The whole chain up
 * to the runtime's DurableObject base is walked, each name wrapped once where it is defined last:
 * `wrangler dev` exports a subclass of the object's class, so the methods live one level up.
 */
function wrapClass(instance: object): void {
  const seen = new Set<string>();
  for (let proto = Object.getPrototypeOf(instance) as Record<string, unknown> | null; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as Record<string, unknown> | null) {
    const base = (proto.constructor as { name?: string } | undefined)?.name === 'DurableObject';
    if (base) break;
    const first = !wrapped.has(proto);
    wrapped.add(proto);
    for (const name of Object.getOwnPropertyNames(proto)) {
      const descriptor = Object.getOwnPropertyDescriptor(proto, name);
      if (!descriptor || typeof descriptor.value !== 'function' || name === 'constructor' || seen.has(name)) continue;
      seen.add(name);
      if (!first) continue;
      if (name === 'webSocketMessage') wrapMethod(proto, name, (t) => t.framesIn++);
      else if (name === 'alarm') wrapMethod(proto, name, (t) => t.alarms++);
      else if (!NOT_RPC.has(name)) wrapMethod(proto, name, (t) => t.rpcs++);
    }
  }
}

function wrapSend(): void {
  const socketClass = (globalThis as { WebSocket?: { prototype: object } }).WebSocket;
  if (sendWrapped || !socketClass) return;
  sendWrapped = true;
  const proto = socketClass.prototype as Record<string, unknown>;
  const send = proto.send as Method;
  proto.send = function (this: object, ...args: unknown[]): unknown {
    framesOut++;
    return send.apply(this, args);
  };
}

/** SQL texts already classified (the objects use a few hundred distinct statements). */
const writes = new Map<string, boolean>();
const MAX_CLASSIFIED = 4_096;

/** Whether a statement may write (is not read-only), from its text. */
export function isWriteStatement(sql: string): boolean {
  const known = writes.get(sql);
  if (known !== undefined) return known;
  const text = sql.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, ' ').trim();
  const verb = /^[a-z]+/i.exec(text)?.[0]?.toUpperCase() ?? '';
  let write: boolean;
  if (verb === 'SELECT' || verb === 'EXPLAIN' || verb === 'VALUES') write = false;
  else if (verb === 'PRAGMA') write = text.includes('=');
  else if (verb === 'WITH') write = /\b(INSERT|UPDATE|DELETE|REPLACE)\b/i.test(text);
  else write = true;
  if (writes.size >= MAX_CLASSIFIED) writes.clear();
  writes.set(sql, write);
  return write;
}

/**
 * The write-turn tracker of one object: `wrote()` after each write. Exported for the unit test
 * (a fake clock stands in for the runtime's turns).
 */
export function turnTracker(
  tally: CostTally,
  // Arrow functions: the runtime's queueMicrotask refuses to be called as a method of another object.
  schedule = { microtask: (fn: () => void) => queueMicrotask(fn), timer: (fn: () => void) => void setTimeout(fn, 0) },
): () => void {
  let inTurn = false;
  let inWindow = false;
  const closeTurn = (): void => {
    inTurn = false;
  };
  const closeWindow = (): void => {
    inWindow = false;
  };
  return () => {
    if (!inTurn) {
      inTurn = true;
      tally.commits++;
      schedule.microtask(closeTurn);
    }
    if (!inWindow) {
      inWindow = true;
      tally.commitsLow++;
      schedule.timer(closeWindow);
    }
  };
}

/** Bind a native object's method to it (a proxy must not become `this` of a runtime method). */
function bound(target: object, prop: string | symbol): unknown {
  const value = Reflect.get(target, prop, target) as unknown;
  return typeof value === 'function' ? (value as Method).bind(target) : value;
}

/**
 * The parts of the runtime's object state this module touches, structurally (so the module
 * also type-checks where the Workers types are not loaded: worker/config.ts imports it).
 */
type Sql = { exec(query: string, ...bindings: never[]): unknown };
type Storage = { readonly sql: Sql };
type State = { readonly id: { readonly name?: string | undefined; toString(): string }; readonly storage: Storage };

const STORAGE_WRITES = new Set(['setAlarm', 'deleteAlarm', 'put', 'delete', 'deleteAll']);

/** A view of `sql` whose `exec` counts. */
function countingSql<S extends Sql>(sql: S, tally: CostTally, wrote: () => void): S {
  const exec = sql.exec.bind(sql) as (query: string, ...bindings: unknown[]) => unknown;
  const countedExec = (query: string, ...bindings: unknown[]): unknown => {
    tally.statements++;
    if (isWriteStatement(query)) {
      tally.writeStatements++;
      wrote();
    }
    return exec(query, ...bindings);
  };
  return new Proxy(sql, { get: (target, prop) => (prop === 'exec' ? countedExec : bound(target, prop)) });
}

/** A view of `storage` whose `sql` and alarm / key-value writes count. */
function countingStorage<S extends Storage>(storage: S, tally: CostTally, wrote: () => void): S {
  const sql = countingSql(storage.sql, tally, wrote);
  return new Proxy(storage, {
    get: (target, prop) => {
      if (prop === 'sql') return sql;
      const value = bound(target, prop);
      if (typeof prop !== 'string' || !STORAGE_WRITES.has(prop) || typeof value !== 'function') return value;
      return (...args: unknown[]): unknown => {
        tally.storageWrites++;
        wrote();
        return (value as (...a: unknown[]) => unknown)(...args);
      };
    },
  });
}

/**
 * Called once in an object's constructor: the `ctx` its parts should use. Off (the default,
 * and always in production): returns `ctx` itself and changes nothing. On: counts this object
 * (see above) and returns a view of `ctx` whose storage counts statements and commits.
 *
 * @example
 * const counted = countCosts('mailbox', this, ctx, env); // then build the parts with `counted`
 */
export function countCosts<S extends State>(kind: CostKind, instance: object, ctx: S, env: object): S {
  if (!costCountersOn(env)) return ctx;
  const name = ctx.id.name ?? ctx.id.toString();
  let tally = objects.get(name);
  if (!tally) {
    tally = { ...emptyTally(), kind };
    objects.set(name, tally);
  }
  byInstance.set(instance, tally);
  wrapClass(instance);
  wrapSend();
  const storage = countingStorage(ctx.storage, tally, turnTracker(tally));
  return new Proxy(ctx, { get: (target, prop) => (prop === 'storage' ? storage : bound(target, prop)) });
}
