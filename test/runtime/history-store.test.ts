/**
 * The history shards against real D1 and R2 (workerd): owner → shard mapping and its spec
 * checks, the warm tier's idempotent batches, the cold tier's chunks (paging, crash safety
 * between the R2 put and the D1 commit, rewriting a chunk without a message) and archived
 * search (prefixes, accents, filters, owner isolation, hostile input, highlight offsets).
 * Storage is shared within this file: every test uses its own owner ids.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import {
  bucketOf,
  coldPage,
  commitChunk,
  deleteWarm,
  findCold,
  findWarm,
  ftsQuery,
  highlightsOf,
  historyShards,
  HISTORY_BUCKETS,
  moveToCold,
  parseShardSpec,
  putWarm,
  readChunk,
  removeFromCold,
  searchArchived,
  shardGauges,
  warmDue,
  warmPage,
  writeChunkObject,
  type ArchivedRow,
  type SearchFilter,
  type StoredRow,
} from '../../db/history/index.ts';

const ULID_CHARS = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A fresh ULID-like id (26 characters of Crockford base32). */
function newId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(26));
  return Array.from(bytes, (b) => ULID_CHARS[b % 32]).join('');
}

const JAN_2026 = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;

/** An archived text message (override anything). */
function archived(seq: number, chat: string, at: number, text: string | null, extra: Partial<ArchivedRow> = {}): ArchivedRow {
  return { seq, chat, id: newId(), sender: newId(), at, kind: 'text', text, row: JSON.stringify({ seq, text }), ...extra };
}

function seqsOf(rows: ReadonlyArray<{ seq: number }>): number[] {
  return rows.map((row) => row.seq);
}

/** The shard of a fresh owner (through the deployment's own spec). */
function shardOf(owner: string): D1Database {
  return historyShards(env).of(owner).db;
}

async function count(db: D1Database, sql: string, ...params: unknown[]): Promise<number> {
  const row = await db
    .prepare(sql)
    .bind(...params)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

function search(db: D1Database, owner: string, q: string, extra: Partial<SearchFilter> = {}) {
  const match = ftsQuery(q);
  if (match === null) throw new Error(`no query in ${q}`);
  return searchArchived(db, owner, { match, floor: 0, limit: 50, ...extra });
}

/** Every seq of a chat's cold history, paged `size` at a time from the newest. */
async function allCold(db: D1Database, owner: string, chat: string, size: number, floor = 0): Promise<number[]> {
  const out: number[] = [];
  let before: number | undefined;
  for (;;) {
    const page = await coldPage(db, env.MEDIA, owner, chat, { before, floor, limit: size });
    expect(page.length).toBeLessThanOrEqual(size);
    out.push(...seqsOf(page));
    if (page.length < size) return out;
    before = page[page.length - 1]?.seq;
  }
}

/** A D1 database whose next db.batch fails before it reaches D1 (a crash between the R2 put and the D1 commit). */
function failingNextBatch(db: D1Database): D1Database {
  let failed = false;
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'batch' && !failed) {
        return async () => {
          failed = true;
          throw new Error('injected D1 failure');
        };
      }
      const value: unknown = Reflect.get(target, prop);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('shards', () => {
  it('hashes owners to stable buckets (FNV-1a 32 of the UTF-8 bytes, mod 1024)', () => {
    // Published FNV-1a 32-bit values: "" = 0x811c9dc5, "a" = 0xe40c292c, "foobar" = 0xbf9cf968.
    expect(bucketOf('')).toBe(0x811c9dc5 % HISTORY_BUCKETS);
    expect(bucketOf('a')).toBe(0xe40c292c % HISTORY_BUCKETS);
    expect(bucketOf('foobar')).toBe(0xbf9cf968 % HISTORY_BUCKETS);
    // UTF-8, not UTF-16: "é" is the two bytes c3 a9.
    let hash = 0x811c9dc5;
    for (const byte of [0xc3, 0xa9]) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
    expect(bucketOf('é')).toBe(hash % HISTORY_BUCKETS);
    const id = newId();
    expect(bucketOf(id)).toBe(bucketOf(id));
  });

  it('spreads owners over both shards, and the same owner always lands on the same one', () => {
    const shards = historyShards(env);
    expect(shards.all().map((s) => s.name)).toEqual(['HISTORY_0', 'HISTORY_1']);
    const perShard = new Map<string, number>();
    for (let i = 0; i < 1_000; i++) {
      const id = newId();
      const name = shards.of(id).name;
      expect(shards.of(id).name).toBe(name);
      expect(historyShards(env).of(id)).toBe(shards.of(id));
      perShard.set(name, (perShard.get(name) ?? 0) + 1);
    }
    // 500 ± 16 expected each (binomial); 400 leaves room for any seed.
    expect(perShard.get('HISTORY_0')).toBeGreaterThan(400);
    expect(perShard.get('HISTORY_1')).toBeGreaterThan(400);
  });

  it('refuses specs with gaps, overlaps, bad ranges or unknown bindings, saying what is wrong', () => {
    expect(() => parseShardSpec('0-500:HISTORY_0,512-1023:HISTORY_1')).toThrow(/501-511 are in no range \(gap\)/);
    expect(() => parseShardSpec('0-511:HISTORY_0,512-1000:HISTORY_1')).toThrow(/1001-1023 are in no range \(gap\)/);
    expect(() => parseShardSpec('1-1023:HISTORY_0')).toThrow(/0-0 are in no range \(gap\)/);
    expect(() => parseShardSpec('0-600:HISTORY_0,512-1023:HISTORY_1')).toThrow(/512-600 are in two ranges \(overlap\)/);
    expect(() => parseShardSpec('0-1024:HISTORY_0')).toThrow(/past bucket 1023/);
    expect(() => parseShardSpec('511-0:HISTORY_0')).toThrow(/ends before it starts/);
    expect(() => parseShardSpec('0-1023')).toThrow(/not "first-last:BINDING"/);
    expect(() => parseShardSpec('')).toThrow(/empty/);
    expect(parseShardSpec(' 512-1023:HISTORY_1 , 0-511:HISTORY_0 ')).toEqual([
      { first: 0, last: 511, binding: 'HISTORY_0' },
      { first: 512, last: 1023, binding: 'HISTORY_1' },
    ]);

    const fake = (spec: string) => ({ HISTORY_SHARDS: spec, HISTORY_0: env.HISTORY_0, MEDIA: env.MEDIA }) as unknown as Env;
    expect(() => historyShards(fake('0-511:HISTORY_0,512-1023:HISTORY_9'))).toThrow(/HISTORY_9 is not a D1 database/);
    expect(() => historyShards(fake('0-1023:MEDIA'))).toThrow(/MEDIA is not a D1 database/);
    expect(() => historyShards(fake('0-511:HISTORY_0,600-1023:HISTORY_0'))).toThrow(/gap/);
    // One binding may serve several ranges.
    const one = historyShards(fake('0-99:HISTORY_0,100-1023:HISTORY_0'));
    expect(one.all()).toHaveLength(1);
    expect(one.of(newId()).db).toBe(env.HISTORY_0);
  });
});

describe('warm tier', () => {
  it('stores the same batch twice once', async () => {
    const owner = newId();
    const db = shardOf(owner);
    const rows = [archived(1, 'd:x', JAN_2026, 'hello there'), archived(2, 'd:x', JAN_2026 + 1, null, { kind: 'ciphertext' })];
    await putWarm(db, owner, 7, rows);
    await putWarm(db, owner, 7, rows);
    expect(await count(db, 'SELECT count(*) AS n FROM history_warm WHERE owner = ?', owner)).toBe(2);
    expect(await count(db, 'SELECT count(*) AS n FROM search_docs WHERE owner = ?', owner)).toBe(1);
    expect(seqsOf(await search(db, owner, 'hello'))).toEqual([1]);
  });

  it('never lets an older batch overwrite a newer one, rows and search docs alike', async () => {
    const owner = newId();
    const db = shardOf(owner);
    const id = newId();
    const sender = newId();
    const base = { id, sender };
    await putWarm(db, owner, 5, [archived(10, 'd:x', JAN_2026, 'edited words', { ...base, row: '{"v":"new"}' })]);
    await putWarm(db, owner, 3, [archived(10, 'd:x', JAN_2026, 'original words', { ...base, row: '{"v":"old"}' })]);
    expect((await findWarm(db, owner, id))?.row).toBe('{"v":"new"}');
    expect(await search(db, owner, 'original')).toEqual([]);
    expect(seqsOf(await search(db, owner, 'edited'))).toEqual([10]);

    // A newer batch without text (a recall's tombstone) deletes the doc; a stale one does not bring it back.
    await putWarm(db, owner, 9, [archived(10, 'd:x', JAN_2026, null, { ...base, kind: 'deleted', row: '{"v":"gone"}' })]);
    expect(await search(db, owner, 'edited')).toEqual([]);
    await putWarm(db, owner, 5, [archived(10, 'd:x', JAN_2026, 'edited words', { ...base, row: '{"v":"new"}' })]);
    expect(await search(db, owner, 'edited')).toEqual([]);
    expect((await findWarm(db, owner, id))?.row).toBe('{"v":"gone"}');
    // An equal batch is a redelivery and may be applied again.
    await putWarm(db, owner, 9, [archived(10, 'd:x', JAN_2026, null, { ...base, kind: 'deleted', row: '{"v":"gone"}' })]);
    expect(await count(db, 'SELECT count(*) AS n FROM history_warm WHERE owner = ?', owner)).toBe(1);
  });

  it('pages a chat newest first within (floor, before), at most limit', async () => {
    const owner = newId();
    const db = shardOf(owner);
    const rows: ArchivedRow[] = [];
    for (let seq = 1; seq <= 40; seq++) rows.push(archived(seq, seq % 4 === 0 ? 'g:other' : 'd:a', JAN_2026 + seq, `m${seq}`));
    await putWarm(db, owner, 1, rows);
    const chatA = rows.filter((r) => r.chat === 'd:a').map((r) => r.seq).reverse();
    expect(seqsOf(await warmPage(db, owner, 'd:a', { floor: 0, limit: 5 }))).toEqual(chatA.slice(0, 5));
    expect(seqsOf(await warmPage(db, owner, 'd:a', { before: 30, floor: 0, limit: 3 }))).toEqual([29, 27, 26]);
    expect(seqsOf(await warmPage(db, owner, 'd:a', { before: 10, floor: 5, limit: 50 }))).toEqual([9, 7, 6]);
    expect(seqsOf(await warmPage(db, owner, 'g:other', { floor: 0, limit: 50 }))).toEqual([40, 36, 32, 28, 24, 20, 16, 12, 8, 4]);
    expect(await warmPage(db, newId(), 'd:a', { floor: 0, limit: 50 })).toEqual([]);
    const first = (await warmPage(db, owner, 'd:a', { before: 2, floor: 0, limit: 1 }))[0];
    expect(first).toEqual({ seq: 1, chat: 'd:a', id: rows[0]?.id, at: JAN_2026 + 1, row: rows[0]?.row });
    // Due rows: oldest first, before the cut-off.
    expect(seqsOf(await warmDue(db, owner, JAN_2026 + 4, 10))).toEqual([1, 2, 3]);
  });

  it('finds a warm message by id, and deletes rows with their search docs', async () => {
    const owner = newId();
    const db = shardOf(owner);
    const rows = [archived(1, 'g:g', JAN_2026, 'lunch plans'), archived(2, 'g:g', JAN_2026, null, { id: null, kind: 'event' }), archived(3, 'g:g', JAN_2026, 'lunch again')];
    await putWarm(db, owner, 1, rows);
    expect((await findWarm(db, owner, rows[2]?.id ?? ''))?.seq).toBe(3);
    expect(await findWarm(db, owner, newId())).toBeNull();
    expect(await findWarm(db, newId(), rows[2]?.id ?? '')).toBeNull();
    expect(seqsOf(await search(db, owner, 'lunch'))).toEqual([3, 1]);
    await deleteWarm(db, owner, [1, 2]);
    expect(seqsOf(await warmPage(db, owner, 'g:g', { floor: 0, limit: 10 }))).toEqual([3]);
    expect(seqsOf(await search(db, owner, 'lunch'))).toEqual([3]);
    await deleteWarm(db, owner, []);
  });

  it('stores batches larger than one D1 batch', async () => {
    const owner = newId();
    const db = shardOf(owner);
    const rows = Array.from({ length: 1_000 }, (_, i) => archived(i + 1, 'd:big', JAN_2026 + i, `word${i}`));
    await putWarm(db, owner, 1, rows);
    expect(await count(db, 'SELECT count(*) AS n FROM history_warm WHERE owner = ?', owner)).toBe(1_000);
    expect(await count(db, 'SELECT count(*) AS n FROM search_docs WHERE owner = ?', owner)).toBe(1_000);
  });
});

describe('cold tier', () => {
  /** 1,200 rows: chat d:a gets 11 in 12 (about 550 a month: two chunks a month), g:b the rest; Jan and Feb 2026. */
  function twoMonths(): ArchivedRow[] {
    return Array.from({ length: 1_200 }, (_, i) => {
      const seq = i + 1;
      return archived(seq, seq % 12 === 0 ? 'g:b' : 'd:a', JAN_2026 + Math.floor((i * 59 * DAY) / 1_200), `message number ${seq}`);
    });
  }

  it('moves 1,200 rows into chunks of at most 500 per chat and month, and pages them back once each, newest first', async () => {
    const owner = newId();
    const db = shardOf(owner);
    const rows = twoMonths();
    await putWarm(db, owner, 1, rows);
    const moved = await moveToCold(db, env.MEDIA, owner, JAN_2026 + 60 * DAY);
    expect(moved.rows).toBe(1_200);
    const chunks = await db
      .prepare('SELECT chat, first_seq, last_seq, first_at, last_at, count, bytes, key FROM history_chunks WHERE owner = ? ORDER BY chat, last_seq')
      .bind(owner)
      .all<{ chat: string; first_seq: number; last_seq: number; first_at: number; last_at: number; count: number; bytes: number; key: string }>();
    expect(chunks.results).toHaveLength(moved.chunks);
    // d:a: Jan 500 + rest, Feb 500 + rest; g:b: Jan, Feb.
    expect(moved.chunks).toBe(6);
    for (const chunk of chunks.results) {
      expect(chunk.count).toBeLessThanOrEqual(500);
      expect(new Date(chunk.first_at).getUTCMonth()).toBe(new Date(chunk.last_at).getUTCMonth());
      expect(chunk.key).toBe(`history/${owner}/${chunk.chat}/${chunk.first_seq}-${chunk.last_seq}.jsonl.gz`);
      const stored = await readChunk(env.MEDIA, chunk.key);
      expect(stored).toHaveLength(chunk.count);
      expect(seqsOf(stored)).toEqual([...seqsOf(stored)].sort((a, b) => a - b));
      expect((await env.MEDIA.head(chunk.key))?.size).toBe(chunk.bytes);
    }
    expect(chunks.results.reduce((n, c) => n + c.count, 0)).toBe(1_200);
    expect(await count(db, 'SELECT count(*) AS n FROM history_warm WHERE owner = ?', owner)).toBe(0);
    // Search docs stay.
    expect(await count(db, 'SELECT count(*) AS n FROM search_docs WHERE owner = ?', owner)).toBe(1_200);

    const chatA = rows.filter((r) => r.chat === 'd:a').map((r) => r.seq).reverse();
    const chatB = rows.filter((r) => r.chat === 'g:b').map((r) => r.seq).reverse();
    expect(await allCold(db, owner, 'd:a', 50)).toEqual(chatA);
    expect(await allCold(db, owner, 'd:a', 7)).toEqual(chatA);
    expect(await allCold(db, owner, 'g:b', 1)).toEqual(chatB);
    expect(await allCold(db, owner, 'g:b', 7, 600)).toEqual(chatB.filter((seq) => seq > 600));
    expect(await allCold(db, owner, 'd:a', 50, 1_000)).toEqual(chatA.filter((seq) => seq > 1_000));
    // Size 1 across a chunk boundary (d:a's chunks end at 545, 601 or so: start above and walk down past one).
    const boundary = chunks.results.filter((c) => c.chat === 'd:a')[0]?.last_seq ?? 0;
    let before = boundary + 3;
    const walked: number[] = [];
    for (let i = 0; i < 6; i++) {
      const [row] = await coldPage(db, env.MEDIA, owner, 'd:a', { before, floor: 0, limit: 1 });
      if (!row) break;
      walked.push(row.seq);
      before = row.seq;
    }
    expect(walked).toEqual(chatA.filter((seq) => seq < boundary + 3).slice(0, 6));
    // The row itself comes back verbatim.
    const [one] = await coldPage(db, env.MEDIA, owner, 'd:a', { before: 2, floor: 0, limit: 5 });
    expect(one).toEqual({ seq: 1, chat: 'd:a', id: rows[0]?.id, at: rows[0]?.at, row: rows[0]?.row });
    expect(await coldPage(db, env.MEDIA, owner, 'd:nobody', { floor: 0, limit: 5 })).toEqual([]);
  });

  it('pages chunks whose seq ranges overlap (a row that went cold later) in order', async () => {
    const owner = newId();
    const db = shardOf(owner);
    const rows = Array.from({ length: 60 }, (_, i) => archived(i + 1, 'd:a', JAN_2026 + i * 1_000, `m${i + 1}`));
    const late = rows.splice(29, 1); // seq 30 stays hot (starred) for a while
    await putWarm(db, owner, 1, rows);
    expect((await moveToCold(db, env.MEDIA, owner, JAN_2026 + DAY, { chunkRows: 20 })).chunks).toBe(3);
    await putWarm(db, owner, 2, late);
    expect((await moveToCold(db, env.MEDIA, owner, JAN_2026 + DAY)).chunks).toBe(1);
    const all = Array.from({ length: 60 }, (_, i) => 60 - i);
    for (const size of [1, 3, 7, 50]) expect(await allCold(db, owner, 'd:a', size)).toEqual(all);
  });

  it('loses and duplicates nothing when D1 fails after the R2 put, and a retry completes the move', async () => {
    const owner = newId();
    const db = shardOf(owner);
    const rows = Array.from({ length: 50 }, (_, i) => archived(i + 1, 'd:a', JAN_2026 + i, `m${i + 1}`));
    await putWarm(db, owner, 1, rows);
    await expect(moveToCold(failingNextBatch(db), env.MEDIA, owner, JAN_2026 + DAY)).rejects.toThrow(/injected/);
    // The object is in R2 but nothing names it; every row is still warm and none is cold.
    const listed = await env.MEDIA.list({ prefix: `history/${owner}/` });
    expect(listed.objects.map((o) => o.key)).toEqual([`history/${owner}/d:a/1-50.jsonl.gz`]);
    expect(await count(db, 'SELECT count(*) AS n FROM history_chunks WHERE owner = ?', owner)).toBe(0);
    expect(seqsOf(await warmPage(db, owner, 'd:a', { floor: 0, limit: 100 }))).toHaveLength(50);
    expect(await coldPage(db, env.MEDIA, owner, 'd:a', { floor: 0, limit: 100 })).toEqual([]);

    expect(await moveToCold(db, env.MEDIA, owner, JAN_2026 + DAY)).toEqual({ chunks: 1, rows: 50 });
    expect((await env.MEDIA.list({ prefix: `history/${owner}/` })).objects).toHaveLength(1);
    expect(await warmPage(db, owner, 'd:a', { floor: 0, limit: 100 })).toEqual([]);
    expect(await allCold(db, owner, 'd:a', 7)).toEqual(Array.from({ length: 50 }, (_, i) => 50 - i));
    // Nothing is left to move: a second run changes nothing.
    expect(await moveToCold(db, env.MEDIA, owner, JAN_2026 + DAY)).toEqual({ chunks: 0, rows: 0 });
  });

  it('keeps a row warm when a newer batch rewrote it while its chunk was being written', async () => {
    const owner = newId();
    const db = shardOf(owner);
    const rows = Array.from({ length: 5 }, (_, i) => archived(i + 1, 'd:a', JAN_2026 + i, `m${i + 1}`));
    await putWarm(db, owner, 1, rows);
    // The D1 step fails; meanwhile seq 3 is archived again by a newer batch; the retry must not drop it.
    await expect(moveToCold(failingNextBatch(db), env.MEDIA, owner, JAN_2026 + DAY)).rejects.toThrow(/injected/);
    const due = await db.prepare('SELECT seq, chat, id, at, row, batch FROM history_warm WHERE owner = ? ORDER BY seq').bind(owner).all<StoredRow & { batch: number }>();
    await putWarm(db, owner, 2, [archived(3, 'd:a', JAN_2026 + 2, 'rewritten', { id: rows[2]?.id ?? null, row: '{"v":2}' })]);
    const bytes = await writeChunkObject(env.MEDIA, owner, due.results);
    await commitChunk(db, owner, due.results, bytes);
    expect(seqsOf(await warmPage(db, owner, 'd:a', { floor: 0, limit: 10 }))).toEqual([3]);
  });

  it('finds a cold message by id and time, and removes it from its chunk and from search', async () => {
    const owner = newId();
    const db = shardOf(owner);
    const rows = Array.from({ length: 30 }, (_, i) => archived(i + 1, 'd:a', JAN_2026 + i * DAY, `picnic ${i + 1}`));
    await putWarm(db, owner, 1, rows);
    await moveToCold(db, env.MEDIA, owner, JAN_2026 + 60 * DAY);
    const target = rows[9];
    if (!target?.id) throw new Error('no row');
    const found = await findCold(db, env.MEDIA, owner, 'd:a', target.id, target.at);
    expect(found).toMatchObject({ seq: 10, id: target.id, row: target.row });
    expect(found?.chunk).toBe(`history/${owner}/d:a/1-30.jsonl.gz`);
    // The wrong chat, a time outside every chunk or an unknown id: not found.
    expect(await findCold(db, env.MEDIA, owner, 'd:b', target.id, target.at)).toBeNull();
    expect(await findCold(db, env.MEDIA, owner, 'd:a', target.id, JAN_2026 + 300 * DAY)).toBeNull();
    expect(await findCold(db, env.MEDIA, owner, 'd:a', newId(), target.at)).toBeNull();

    expect(seqsOf(await search(db, owner, 'picnic', { before: 12 }))).toEqual([11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    await removeFromCold(db, env.MEDIA, owner, found?.chunk ?? '', 10);
    expect(seqsOf(await search(db, owner, 'picnic', { before: 12 }))).toEqual([11, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(seqsOf(await readChunk(env.MEDIA, found?.chunk ?? ''))).not.toContain(10);
    expect(await allCold(db, owner, 'd:a', 7)).toEqual(Array.from({ length: 30 }, (_, i) => 30 - i).filter((s) => s !== 10));
    const index = await db.prepare('SELECT count, bytes, last_seq FROM history_chunks WHERE owner = ?').bind(owner).first<{ count: number; bytes: number; last_seq: number }>();
    expect(index?.count).toBe(29);
    expect(index?.bytes).toBe((await env.MEDIA.head(found?.chunk ?? ''))?.size);
    // Again (a retry): nothing changes.
    await removeFromCold(db, env.MEDIA, owner, found?.chunk ?? '', 10);
    expect(await allCold(db, owner, 'd:a', 50)).toHaveLength(29);
    // Removing the newest row moves the index row's last_seq; paging still sees the rest.
    await removeFromCold(db, env.MEDIA, owner, found?.chunk ?? '', 30);
    expect((await db.prepare('SELECT last_seq FROM history_chunks WHERE owner = ?').bind(owner).first<{ last_seq: number }>())?.last_seq).toBe(29);
    expect((await allCold(db, owner, 'd:a', 5))[0]).toBe(29);
  });

  it('deletes a chunk that becomes empty, object and index row', async () => {
    const owner = newId();
    const db = shardOf(owner);
    const row = archived(1, 'g:solo', JAN_2026, 'only one');
    await putWarm(db, owner, 1, [row]);
    await moveToCold(db, env.MEDIA, owner, JAN_2026 + DAY);
    const found = await findCold(db, env.MEDIA, owner, 'g:solo', row.id ?? '', row.at);
    await removeFromCold(db, env.MEDIA, owner, found?.chunk ?? '', 1);
    expect(await env.MEDIA.head(found?.chunk ?? '')).toBeNull();
    expect(await count(db, 'SELECT count(*) AS n FROM history_chunks WHERE owner = ?', owner)).toBe(0);
    expect(await count(db, 'SELECT count(*) AS n FROM search_docs WHERE owner = ?', owner)).toBe(0);
    expect(await coldPage(db, env.MEDIA, owner, 'g:solo', { floor: 0, limit: 5 })).toEqual([]);
    await removeFromCold(db, env.MEDIA, owner, found?.chunk ?? '', 1);
  });
});

describe('archived search', () => {
  it('matches word prefixes, ignoring case and accents, all words required', async () => {
    const owner = newId();
    const db = shardOf(owner);
    await putWarm(db, owner, 1, [
      archived(1, 'd:a', JAN_2026, 'Meeting at the Café tomorrow'),
      archived(2, 'd:a', JAN_2026, 'no meet today'),
      archived(3, 'd:a', JAN_2026, 'naïve résumé'),
      archived(4, 'd:a', JAN_2026, 'unrelated'),
    ]);
    expect(seqsOf(await search(db, owner, 'meet'))).toEqual([2, 1]);
    expect(seqsOf(await search(db, owner, 'cafe'))).toEqual([1]);
    expect(seqsOf(await search(db, owner, 'CAFÉ'))).toEqual([1]);
    expect(seqsOf(await search(db, owner, 'meet caf'))).toEqual([1]);
    expect(seqsOf(await search(db, owner, 'naive resume'))).toEqual([3]);
    expect(seqsOf(await search(db, owner, 'meeting today'))).toEqual([]);
    const [hit] = await search(db, owner, 'cafe');
    expect(hit).toMatchObject({ seq: 1, chat: 'd:a', kind: 'text', at: JAN_2026 });
    expect(highlightsOf(hit?.snippet ?? '')).toEqual({ snippet: 'Meeting at the Café tomorrow', highlights: [[15, 19]] });
  });

  it('applies every filter, and never returns another owner’s documents', async () => {
    const owner = newId();
    const other = newId();
    // Both owners in one database, to prove the owner clause (not the shard) isolates them.
    const db = env.HISTORY_0;
    const alice = newId();
    const bob = newId();
    const rows = [
      archived(1, 'd:a', JAN_2026 + 1 * DAY, 'budget draft', { sender: alice }),
      archived(2, 'g:team', JAN_2026 + 2 * DAY, 'budget final', { sender: bob, kind: 'document' }),
      archived(3, 'g:team', JAN_2026 + 3 * DAY, 'budget photo', { sender: alice, kind: 'image' }),
      archived(4, 'd:a', JAN_2026 + 4 * DAY, 'budget again', { sender: bob }),
    ];
    await putWarm(db, owner, 1, rows);
    await putWarm(db, other, 1, rows.map((r) => ({ ...r, seq: r.seq + 100 })));
    expect(seqsOf(await search(db, owner, 'budget'))).toEqual([4, 3, 2, 1]);
    expect(seqsOf(await search(db, other, 'budget'))).toEqual([104, 103, 102, 101]);
    expect(seqsOf(await search(db, owner, 'budget', { chat: 'g:team' }))).toEqual([3, 2]);
    expect(seqsOf(await search(db, owner, 'budget', { sender: alice }))).toEqual([3, 1]);
    expect(seqsOf(await search(db, owner, 'budget', { kind: 'image' }))).toEqual([3]);
    expect(seqsOf(await search(db, owner, 'budget', { since: JAN_2026 + 2 * DAY }))).toEqual([4, 3, 2]);
    expect(seqsOf(await search(db, owner, 'budget', { until: JAN_2026 + 2 * DAY }))).toEqual([1]);
    expect(seqsOf(await search(db, owner, 'budget', { since: JAN_2026 + 2 * DAY, until: JAN_2026 + 4 * DAY }))).toEqual([3, 2]);
    expect(seqsOf(await search(db, owner, 'budget', { before: 4, floor: 1 }))).toEqual([3, 2]);
    expect(seqsOf(await search(db, owner, 'budget', { limit: 2 }))).toEqual([4, 3]);
    expect(seqsOf(await search(db, owner, 'budget', { chat: 'g:team', sender: bob, kind: 'document' }))).toEqual([2]);
    expect(await search(db, newId(), 'budget')).toEqual([]);
    // Owner ids are indexed (to narrow the match) but never matched by the user's words.
    expect(await search(db, owner, owner)).toEqual([]);
    expect(await search(db, owner, owner.slice(0, 8))).toEqual([]);
    const [hit] = await search(db, owner, 'final');
    expect(hit).toMatchObject({ seq: 2, chat: 'g:team', id: rows[1]?.id, sender: bob, kind: 'document', at: JAN_2026 + 2 * DAY });
  });

  it('turns hostile input into quoted prefix terms that D1 always accepts', async () => {
    const owner = newId();
    const db = shardOf(owner);
    await putWarm(db, owner, 1, [
      archived(1, 'd:a', JAN_2026, 'near the "quoted" title: c++ and e-mail'),
      archived(2, 'd:a', JAN_2026, 'NOT or AND'),
    ]);
    expect(ftsQuery('meet')).toBe('"meet"*');
    expect(ftsQuery('  say "hi"  there ')).toBe('"say"* """hi"""* "there"*');
    for (const q of ['', '   ', '"', '""', '*', '-', ':', '( )', '!!! ... --- ** ^', '\u0002\u0003']) expect(ftsQuery(q)).toBeNull();
    const hostile = [
      '"',
      'NEAR(',
      'NEAR(a b',
      'near(the title)',
      'title:near',
      'text:near',
      '-near',
      'c++',
      'e-mail',
      '"quoted',
      'quoted"',
      'a"b"c',
      '*near',
      'near*',
      'NOT',
      'OR AND',
      '^near',
      '{text}: near',
      "'; DROP TABLE search_docs; --",
      '🙂 near',
      '\u{16FF0}',
      '\uA7C0',
      '\u{1E030}',
      'x\u0301',
      '١٢٣',
    ];
    for (const q of hostile) {
      const match = ftsQuery(q);
      if (match === null) continue;
      await expect(searchArchived(db, owner, { match, floor: 0, limit: 10 })).resolves.toBeInstanceOf(Array);
    }
    expect(seqsOf(await search(db, owner, 'NEAR('))).toEqual([1]);
    expect(seqsOf(await search(db, owner, '"quoted'))).toEqual([1]);
    expect(seqsOf(await search(db, owner, 'title:'))).toEqual([1]);
    expect(seqsOf(await search(db, owner, 'c++'))).toEqual([1]);
    expect(seqsOf(await search(db, owner, 'e-mail'))).toEqual([1]);
    expect(seqsOf(await search(db, owner, 'NOT'))).toEqual([2]);
    expect(seqsOf(await search(db, owner, 'or and'))).toEqual([2]);
    expect(await count(db, 'SELECT count(*) AS n FROM search_docs WHERE owner = ?', owner)).toBe(2);
  });

  it('reports highlight offsets in UTF-16 code units, emoji included', async () => {
    expect(highlightsOf('plain')).toEqual({ snippet: 'plain', highlights: [] });
    expect(highlightsOf('👋 \u0002café\u0003 and \u0002🙂x\u0003!')).toEqual({ snippet: '👋 café and 🙂x!', highlights: [[3, 7], [12, 15]] });
    // A snippet cut inside a match, or a stray close mark.
    expect(highlightsOf('…\u0002meet')).toEqual({ snippet: '…meet', highlights: [[1, 5]] });
    expect(highlightsOf('a\u0003b')).toEqual({ snippet: 'ab', highlights: [] });

    const owner = newId();
    const db = shardOf(owner);
    await putWarm(db, owner, 1, [archived(1, 'd:a', JAN_2026, '👨‍👩‍👧 party 🎉🎉 at Zoë’s 𝒳 place, be there')]);
    const [hit] = await search(db, owner, 'zoe plac');
    const { snippet, highlights } = highlightsOf(hit?.snippet ?? '');
    expect(highlights.map(([start, end]) => snippet.slice(start, end))).toEqual(['Zoë', 'place']);
  });
});

describe('gauges', () => {
  it('counts and sizes each tier, and how late the cold move is', async () => {
    const owner = newId();
    const db = shardOf(owner);
    const now = Date.now();
    const before = await shardGauges(db, 90 * DAY, now);
    const rows = Array.from({ length: 10 }, (_, i) => archived(i + 1, 'd:a', JAN_2026 + i, i < 6 ? `text ${i}` : null));
    await putWarm(db, owner, 1, rows);
    const warm = await shardGauges(db, 90 * DAY, now);
    expect(warm.warmRows - before.warmRows).toBe(10);
    expect(warm.warmBytes - before.warmBytes).toBe(rows.reduce((n, r) => n + r.row.length, 0));
    expect(warm.searchDocs - before.searchDocs).toBe(6);
    const oldest = await count(db, 'SELECT min(at) AS n FROM history_warm');
    expect(warm.coldLagMs).toBe(Math.max(0, now - 90 * DAY - oldest));
    expect((await shardGauges(db, 90 * DAY, 0)).coldLagMs).toBe(0);

    await moveToCold(db, env.MEDIA, owner, JAN_2026 + DAY, { chunkRows: 4 });
    const cold = await shardGauges(db, 90 * DAY, now);
    expect(cold.warmRows - before.warmRows).toBe(0);
    expect(cold.coldChunks - before.coldChunks).toBe(3);
    expect(cold.coldMessages - before.coldMessages).toBe(10);
    const bytes = await count(db, 'SELECT sum(bytes) AS n FROM history_chunks WHERE owner = ?', owner);
    expect(cold.coldBytes - before.coldBytes).toBe(bytes);
    expect(cold.searchDocs - before.searchDocs).toBe(6);
  });
});
