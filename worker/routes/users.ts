/**
 * Profiles: your own (with phone number, editable) and other users' (by id without the phone
 * number, or by phone number for contact discovery). All of them require a logged-in device,
 * so the directory cannot be enumerated anonymously, and look-ups by number are budgeted per
 * user (protocol/rate-limits.ts), so it cannot be enumerated by an account either.
 */
import { Hono } from 'hono';
import { PATHS, ProfileUpdateSchema, ULID_PATTERN, type Profile } from '../../protocol/index.ts';
import type { AppEnv } from '../app-env.ts';
import { requireAuth } from '../auth/middleware.ts';
import { normalisePhone } from '../auth/phone.ts';
import { chargeBudget, spendBudget } from '../budgets.ts';
import { findUserById, findUserByPhone, updateProfile } from '../db/accounts.ts';
import type { UserRow } from '../db/schema.ts';
import { ApiError } from '../errors.ts';
import { jsonBody } from '../validate.ts';

export const userRoutes = new Hono<AppEnv>();

function toProfile(user: UserRow, withPhone: boolean): Profile {
  return {
    userId: user.id,
    displayName: user.displayName,
    about: user.about,
    ...(withPhone ? { phone: user.phone } : {}),
  };
}

userRoutes.get(PATHS.me, requireAuth, async (c) => {
  const user = await findUserById(c.env.DB, c.get('auth').userId);
  if (user === null) throw new ApiError('user_not_found');
  return c.json(toProfile(user, true) satisfies Profile, 200);
});

userRoutes.patch(PATHS.me, requireAuth, jsonBody(ProfileUpdateSchema), async (c) => {
  const user = await updateProfile(c.env.DB, c.get('auth').userId, c.req.valid('json'), Date.now());
  if (user === null) throw new ApiError('user_not_found');
  return c.json(toProfile(user, true) satisfies Profile, 200);
});

// Registered before `/v1/users/:userId` for readability; the segment counts differ anyway.
// A look-up costs one `phone_lookup_user` token, one more when nobody uses the number: walking
// number ranges to find who uses the messenger runs out of budget twice as fast.
userRoutes.get('/v1/users/by-phone/:phone', requireAuth, async (c) => {
  const { userId } = c.get('auth');
  const phone = normalisePhone(c.req.param('phone'));
  if (phone === null) throw new ApiError('invalid_phone');
  await spendBudget(c.env, userId, 'phone_lookup_user', 1);
  const user = await findUserByPhone(c.env.DB, phone);
  if (user === null) {
    await chargeBudget(c.env, userId, 'phone_lookup_user', 1);
    throw new ApiError('user_not_found');
  }
  // The caller already knows the number, so returning it reveals nothing new.
  return c.json(toProfile(user, true) satisfies Profile, 200);
});

userRoutes.get('/v1/users/:userId', requireAuth, async (c) => {
  const userId = c.req.param('userId');
  // A malformed id names no user: same answer as an unknown one.
  const user = ULID_PATTERN.test(userId) ? await findUserById(c.env.DB, userId) : null;
  if (user === null) throw new ApiError('user_not_found');
  return c.json(toProfile(user, false) satisfies Profile, 200);
});
