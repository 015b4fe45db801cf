/**
 * Profiles: your own (with phone number, editable) and other users' (by id, or by phone number
 * for contact discovery), as their owner's privacy lets you see them: the display name always,
 * the about only when allowed (db/privacy.ts), never the phone number. All of them require
 * a logged-in device, so the directory cannot be enumerated anonymously, and look-ups by number
 * are budgeted per user (protocol/rate-limits.ts), so it cannot be enumerated by an account either.
 */
import { Hono } from 'hono';
import { PATHS, ProfileUpdateSchema, ULID_PATTERN, type Profile } from '../../protocol/index.ts';
import type { AppEnv } from '../app-env.ts';
import { requireAuth } from '../auth/middleware.ts';
import { normalisePhone } from '../auth/phone.ts';
import { chargeBudget, spendBudget } from '../budgets.ts';
import { findUserById, updateProfile } from '../../db/accounts.ts';
import { profileSeenBy } from '../../db/privacy.ts';
import type { UserRow } from '../../db/schema.ts';
import { ApiError } from '../errors.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { checkOwnAvatar, photoChanged } from '../media/pictures.ts';
import { jsonBody } from '../validate.ts';

export const userRoutes = new Hono<AppEnv>();

/** Your own profile: everything, with the phone number. */
function ownProfile(user: UserRow | null): Profile {
  if (user === null || user.deletedAt !== null) throw new ApiError('user_not_found');
  return { userId: user.id, displayName: user.displayName, about: user.about, photo: user.photo, phone: user.phone };
}

userRoutes.get(PATHS.me, requireAuth, async (c) => {
  return c.json(ownProfile(await findUserById(c.env.DB, c.get('auth').userId)) satisfies Profile, 200);
});

userRoutes.patch(PATHS.me, requireAuth, jsonBody(ProfileUpdateSchema), async (c) => {
  const { userId } = c.get('auth');
  const update = c.req.valid('json');
  const now = Date.now();
  if (update.photo !== undefined && update.photo !== null) await checkOwnAvatar(c.env, userId, update.photo);
  const before = update.photo === undefined ? null : await findUserById(c.env.DB, userId);
  const user = await updateProfile(c.env.DB, userId, update, now);
  if (update.photo !== undefined) await photoChanged(c.env, before?.photo ?? null, update.photo, now);
  return c.json(ownProfile(user) satisfies Profile, 200);
});

// Registered before `/v1/users/:userId` for readability; the segment counts differ anyway.
// A look-up costs one `phone_lookup_user` token, one more when nobody uses the number: walking
// number ranges to find who uses the messenger runs out of budget twice as fast. The answer
// carries no number: it would only confirm what the caller typed, and profiles never carry one.
userRoutes.get('/v1/users/by-phone/:phone', requireAuth, async (c) => {
  const { userId } = c.get('auth');
  const phone = normalisePhone(c.req.param('phone'));
  if (phone === null) throw new ApiError('invalid_phone');
  await spendBudget(c.env, userId, 'phone_lookup_user', 1);
  const profile = await profileSeenBy(c.env.DB, userId, { phone });
  if (profile === null) {
    await chargeBudget(c.env, userId, 'phone_lookup_user', 1);
    throw new ApiError('user_not_found');
  }
  return c.json(profile satisfies Profile, 200);
});

// Someone who wrote to you in a 1:1 chat shared their number by writing (as with SMS or WhatsApp):
// their profile then carries it, so a first message from a stranger says who it is. One call to
// the viewer's mailbox, asked only for a user who exists.
userRoutes.get('/v1/users/:userId', requireAuth, async (c) => {
  const userId = c.req.param('userId');
  const viewer = c.get('auth').userId;
  // A malformed id names no user: same answer as an unknown one.
  const profile = ULID_PATTERN.test(userId) ? await profileSeenBy(c.env.DB, viewer, { id: userId }) : null;
  if (profile === null) throw new ApiError('user_not_found');
  if (userId !== viewer && (await mailboxOf(c.env, viewer).heardFrom(userId))) {
    const phone = (await findUserById(c.env.DB, userId))?.phone;
    if (phone !== undefined) return c.json({ ...profile, phone } satisfies Profile, 200);
  }
  return c.json(profile satisfies Profile, 200);
});
