/**
 * Contacts and blocking. A contact list is yours alone (added by phone number, with an optional
 * label); blocking someone is also yours alone and silent: a blocked user's 1:1 messages are
 * accepted from them (they see one tick, "sent") but never reach you, as in WhatsApp, so
 * blocking cannot be probed.
 */
import { z } from 'zod';
import { CONTACT_LABEL_MAX } from './limits.ts';
import { UserIdSchema } from './messages.ts';
import { labelText } from './text.ts';

const Label = labelText(CONTACT_LABEL_MAX);

export const ContactSchema = z.strictObject({
  userId: UserIdSchema,
  /** E.164. */
  phone: z.string(),
  /** Their profile name. */
  displayName: z.string(),
  /** Their profile photo's media id, when their profile privacy shows it to you (as GET /v1/users/:id); else null. */
  photo: z.string().nullable(),
  /** Your label for them ('' when none). */
  name: z.string(),
  addedAt: z.number().int(),
});
export type Contact = z.infer<typeof ContactSchema>;

export const ContactListSchema = z.strictObject({ contacts: z.array(ContactSchema) });
export type ContactList = z.infer<typeof ContactListSchema>;

// ---- POST /v1/contacts
export const AddContactSchema = z.strictObject({
  /** Any common notation; normalised to E.164. */
  phone: z.string().min(3).max(32),
  name: Label.optional(),
});
export type AddContact = z.infer<typeof AddContactSchema>;

// ---- GET /v1/blocks
export const BlockedUserSchema = z.strictObject({ userId: UserIdSchema, at: z.number().int() });
export const BlockListSchema = z.strictObject({ blocked: z.array(BlockedUserSchema) });
export type BlockedUser = z.infer<typeof BlockedUserSchema>;
export type BlockList = z.infer<typeof BlockListSchema>;
