/**
 * Contacts (your address book of other users, in D1) and blocking (enforced by your mailbox
 * object, so it is stored there, and mirrored to D1 for the Worker's own checks: profiles, group
 * adds). Blocking is silent: the blocked user is not told, and their 1:1 messages are accepted
 * from them but never delivered. Adding contacts is budgeted per user (`contact_add_user`, and
 * `phone_lookup_user` since it looks the number up).
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { AddContactSchema, PATHS, UserIdSchema, type BlockList, type Contact, type ContactList } from '../../protocol/index.ts';
import type { AppEnv } from '../app-env.ts';
import { requireAuth } from '../auth/middleware.ts';
import { normalisePhone } from '../auth/phone.ts';
import { chargeBudget, spendBudgets } from '../budgets.ts';
import { findUserByPhone, userExists } from '../../db/accounts.ts';
import { addContact, listContacts, removeContact } from '../../db/contacts.ts';
import { mirrorBlock, mirrorUnblock, syncBlocks } from '../../db/privacy.ts';
import { ApiError } from '../errors.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { jsonBody, params } from '../validate.ts';

const UserParam = params(z.object({ userId: UserIdSchema }));

export const contactRoutes = new Hono<AppEnv>()
  .get(PATHS.contacts, requireAuth, async (c) => {
    return c.json({ contacts: await listContacts(c.env.DB, c.get('auth').userId) } satisfies ContactList);
  })
  .post(PATHS.contacts, requireAuth, jsonBody(AddContactSchema), async (c) => {
    const { userId } = c.get('auth');
    const { phone, name } = c.req.valid('json');
    const e164 = normalisePhone(phone);
    if (e164 === null) throw new ApiError('invalid_phone');
    // Adding is a look-up by number too: it costs both budgets, and a number nobody uses one more look-up.
    await spendBudgets(c.env, userId, [
      { name: 'contact_add_user', cost: 1 },
      { name: 'phone_lookup_user', cost: 1 },
    ]);
    const user = await findUserByPhone(c.env.DB, e164);
    if (user === null) {
      await chargeBudget(c.env, userId, 'phone_lookup_user', 1);
      throw new ApiError('user_not_found', 'Nobody uses the messenger with that number');
    }
    if (user.id === userId) throw new ApiError('self_reference');
    const now = Date.now();
    await addContact(c.env.DB, userId, user.id, name ?? '', now);
    // Presence views already open (theirs of the caller, the caller's of them) follow at once.
    await mailboxOf(c.env, userId).contactChanged(user.id, true);
    const [contact] = await listContacts(c.env.DB, userId, user.id);
    if (!contact) throw new ApiError('unavailable');
    return c.json(contact satisfies Contact, 201);
  })
  .delete('/v1/contacts/:userId', requireAuth, UserParam, async (c) => {
    const { userId } = c.get('auth');
    const contactId = c.req.valid('param').userId;
    const removed = await removeContact(c.env.DB, userId, contactId);
    if (!removed) throw new ApiError('user_not_found', 'Not in your contacts');
    await mailboxOf(c.env, userId).contactChanged(contactId, false);
    return c.body(null, 204);
  })
  // The mailbox's list is the truth; reading it also repairs the D1 mirror (blocks made before
  // the mirror existed, or a mirror write that failed and was never retried).
  .get(PATHS.blocks, requireAuth, async (c) => {
    const { userId } = c.get('auth');
    const list = await mailboxOf(c.env, userId).blocked();
    await syncBlocks(c.env.DB, userId, list.blocked);
    return c.json(list satisfies BlockList);
  })
  // Mailbox first (it enforces), then the mirror. Both writes are idempotent: when the mirror
  // write fails the request fails, and the client's retry completes it.
  .put('/v1/blocks/:userId', requireAuth, UserParam, async (c) => {
    const { userId } = c.get('auth');
    const target = c.req.valid('param').userId;
    if (target === userId) throw new ApiError('self_reference');
    if (!(await userExists(c.env.DB, target))) throw new ApiError('user_not_found');
    await mailboxOf(c.env, userId).block(target);
    await mirrorBlock(c.env.DB, userId, target, Date.now());
    return c.body(null, 204);
  })
  .delete('/v1/blocks/:userId', requireAuth, UserParam, async (c) => {
    const { userId } = c.get('auth');
    const target = c.req.valid('param').userId;
    await mailboxOf(c.env, userId).unblock(target);
    await mirrorUnblock(c.env.DB, userId, target);
    return c.body(null, 204);
  });
