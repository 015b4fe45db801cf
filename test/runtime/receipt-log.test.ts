/**
 * A group's receipt log (when each member's watermarks moved, for message info) is pruned by the
 * alarm to what is kept (30 days). Rows are appended in time order; pruning deletes every row
 * older than the cutoff and nothing newer, whether none, some or all of them are old.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { GroupChat } from '../../durable-objects/group-chat.ts';
import { Members } from '../../durable-objects/group/members.ts';
import { groupOf } from '../../durable-objects/stubs.ts';
import { createGroup, users } from './group-support.ts';

describe('group receipt log pruning', () => {
  it('deletes the rows older than the cutoff and keeps the rest, in every case', async () => {
    const [ann, bob] = await users(2);
    const group = (await createGroup(ann!, [bob!])).groupId;
    await runInDurableObject(groupOf(env, group) as DurableObjectStub<GroupChat>, (_instance, state) => {
      const sql = state.storage.sql;
      const members = new Members(sql);
      const fill = (n: number) => {
        sql.exec('DELETE FROM receipt_log');
        sql.exec(
          `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?)
           INSERT INTO receipt_log (user_id, status, up_to, at) SELECT ?, 'delivered', i, i * 10 FROM s`,
          n,
          bob!.userId,
        );
      };
      const ats = () => sql.exec<{ at: number }>('SELECT at FROM receipt_log ORDER BY rowid').toArray().map((r) => r.at);

      fill(5_000);
      members.pruneReceiptLog(20_001); // rows at 10 … 50,000: the first 2,000 are older
      const kept = ats();
      expect(kept).toHaveLength(3_000);
      expect(kept[0]).toBe(20_010);
      expect(kept[kept.length - 1]).toBe(50_000);

      members.pruneReceiptLog(5); // nothing that old
      expect(ats()).toHaveLength(3_000);

      members.pruneReceiptLog(1_000_000); // everything is older
      expect(ats()).toEqual([]);
      members.pruneReceiptLog(1_000_000); // an empty log stays empty
      expect(ats()).toEqual([]);
    });
  });
});
