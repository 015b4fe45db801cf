/**
 * Groups: the group log's entries (messages and system events), receipt summaries, and the HTTP
 * bodies of group management. A group's Durable Object numbers every entry of its log with a
 * group sequence number (`gseq`: 1, 2, 3, ... per group), so all members see one order; each
 * member's mailbox then carries the entries with its own mailbox `seq` like any other entry.
 */
import { z } from 'zod';
import { nameText, noteText } from './text.ts';
import { GROUP_DESCRIPTION_MAX, GROUP_MEMBERS_PAGE_DEFAULT, GROUP_MEMBERS_PAGE_MAX, GROUP_MEMBERS_PER_REQUEST, GROUP_TITLE_MAX, HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT } from './limits.ts';
import {
  ClientIdSchema,
  DeviceIdSchema,
  ActionSummarySchema,
  MessageIdSchema,
  StoredBodySchema,
  messageExtras,
  QuerySeqSchema,
  SeqSchema,
  UlidSchema,
  UserIdSchema,
} from './messages.ts';

export const GroupIdSchema = UlidSchema;
/** Position in a group's log; 0 means "nothing yet". */
export const GroupSeqSchema = SeqSchema;
export const GroupRoleSchema = z.enum(['admin', 'member']);
export type GroupRole = z.infer<typeof GroupRoleSchema>;

const Title = nameText(GROUP_TITLE_MAX);
const Description = noteText(GROUP_DESCRIPTION_MAX);
/** A media id (uploads arrive with the media feature); null clears the picture. */
const Picture = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected a media id').nullable();
const MemberList = z.array(UserIdSchema).max(GROUP_MEMBERS_PER_REQUEST);

// ---------------------------------------------------------------- log entries

/** A message in a group's log, as every member's devices receive it. */
export const GroupMessageSchema = z.strictObject({
  /** Server-assigned id (ULID), the same for every member. */
  id: MessageIdSchema,
  group: GroupIdSchema,
  /** Position in the group's log: the one order every member sees. */
  gseq: GroupSeqSchema,
  /** The sender's client id (unique per group and sender). */
  clientId: ClientIdSchema,
  from: UserIdSchema,
  fromDevice: DeviceIdSchema,
  /** Server time it was stored in the log, ms since the epoch. Display only: order by gseq. */
  sentAt: z.number().int(),
  body: StoredBodySchema,
  ...messageExtras,
});
export type GroupMessage = z.infer<typeof GroupMessageSchema>;

/** What changed, for a system message such as "Ann added Bob". */
export const GroupChangeSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('created'), title: z.string() }),
  z.strictObject({ kind: z.literal('members_added'), members: z.array(UserIdSchema).min(1) }),
  z.strictObject({ kind: z.literal('member_removed'), member: UserIdSchema }),
  z.strictObject({ kind: z.literal('member_left'), member: UserIdSchema }),
  /** `member` joined by accepting an invite, through an invite link, or when an admin approved their request to join by link. */
  z.strictObject({ kind: z.literal('member_joined'), member: UserIdSchema, via: z.enum(['invite', 'link', 'request']) }),
  z.strictObject({ kind: z.literal('admin_promoted'), member: UserIdSchema }),
  z.strictObject({ kind: z.literal('admin_demoted'), member: UserIdSchema }),
  z.strictObject({ kind: z.literal('title_changed'), title: z.string() }),
  z.strictObject({ kind: z.literal('description_changed'), description: z.string() }),
  z.strictObject({ kind: z.literal('picture_changed'), picture: z.string().nullable() }),
  z.strictObject({ kind: z.literal('settings_changed'), onlyAdminsSend: z.boolean() }),
  /**
   * The group grew past the deployment's threshold: from the next entry on it is delivered by
   * read diffusion (see `group_pull`, `group_live`, `group_heads`). The last entry copied into
   * mailboxes. One-way: a group that shrinks again stays so.
   */
  z.strictObject({ kind: z.literal('delivery_changed'), mode: z.literal('log') }),
]);
export type GroupChange = z.infer<typeof GroupChangeSchema>;

/** A system message in a group's log: a membership or settings change, in order with messages. */
export const GroupEventSchema = z.strictObject({
  id: MessageIdSchema,
  group: GroupIdSchema,
  gseq: GroupSeqSchema,
  /** Who made the change (for `member_left`, the member who left). */
  by: UserIdSchema,
  at: z.number().int(),
  change: GroupChangeSchema,
});
export type GroupEvent = z.infer<typeof GroupEventSchema>;

/**
 * A change to a message already in the log (a reaction, an edit, a deletion for everyone), in log
 * order like everything else, so every member's copy converges. `message` is the message as it
 * is after the change (a deleted one as a tombstone): members replace their copy with it.
 */
export const GroupUpdateSchema = z.strictObject({
  /** Server id of the update entry. */
  id: MessageIdSchema,
  group: GroupIdSchema,
  /** The update's own position in the log (the message keeps its `message.gseq`). */
  gseq: GroupSeqSchema,
  by: UserIdSchema,
  at: z.number().int(),
  action: ActionSummarySchema,
  message: GroupMessageSchema,
});
export type GroupUpdate = z.infer<typeof GroupUpdateSchema>;

/** One entry of a group's log: a message, a system event, or an update to an earlier message. */
export const GroupEntrySchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('message'), message: GroupMessageSchema }),
  z.strictObject({ type: z.literal('event'), event: GroupEventSchema }),
  z.strictObject({ type: z.literal('update'), update: GroupUpdateSchema }),
]);
export type GroupEntry = z.infer<typeof GroupEntrySchema>;

/** An entry's position in its group's log, whatever it holds. */
export function gseqOf(entry: GroupEntry): number {
  switch (entry.type) {
    case 'message':
      return entry.message.gseq;
    case 'event':
      return entry.event.gseq;
    case 'update':
      return entry.update.gseq;
  }
}

/** The delivery state of one of your group messages, summed over its recipients. */
export const GroupTallySchema = z.strictObject({
  messageId: MessageIdSchema,
  gseq: GroupSeqSchema,
  /** Members other than you who were in the group when it was sent (and still are). */
  of: z.number().int().min(0),
  /** How many of them have it on at least one device. */
  delivered: z.number().int().min(0),
  /** How many of them read it. */
  read: z.number().int().min(0),
});
export type GroupTally = z.infer<typeof GroupTallySchema>;

// ---------------------------------------------------------------- HTTP bodies

export const GroupMemberSchema = z.strictObject({
  userId: UserIdSchema,
  role: GroupRoleSchema,
  /** When they (last) joined, ms since the epoch. */
  joinedAt: z.number().int(),
});
export type GroupMember = z.infer<typeof GroupMemberSchema>;

/** Someone invited to the group who has not accepted yet (they receive nothing from it until they do). */
export const PendingInviteSchema = z.strictObject({
  userId: UserIdSchema,
  invitedBy: UserIdSchema,
  at: z.number().int(),
});
export type PendingInvite = z.infer<typeof PendingInviteSchema>;

export const GroupSchema = z.strictObject({
  groupId: GroupIdSchema,
  title: z.string(),
  description: z.string(),
  picture: z.string().nullable(),
  /** When true only admins may send messages. */
  onlyAdminsSend: z.boolean(),
  createdBy: UserIdSchema,
  createdAt: z.number().int(),
  /** Highest gseq in the log. */
  head: GroupSeqSchema,
  /** How many members the group has (`members` lists them all up to GROUP_VIEW_MEMBERS_MAX). */
  memberCount: z.number().int().min(0),
  /**
   * Every member, oldest first, in a group of up to GROUP_VIEW_MEMBERS_MAX members. A larger group
   * (a large group can have up to GROUP_LOG_MAX_MEMBERS) lists GROUP_VIEW_MEMBERS_MAX of them: you,
   * the admins and the longest-standing members, oldest first; all of them page by page with
   * `GET /v1/groups/:groupId/members`.
   */
  members: z.array(GroupMemberSchema),
  /**
   * People asked to join who may not be added directly (their `privacy.groups`): pending until
   * they accept or decline. Listed for admins only (empty for other members), the oldest
   * GROUP_VIEW_MEMBERS_MAX.
   */
  invites: z.array(PendingInviteSchema),
});
export type Group = z.infer<typeof GroupSchema>;

// ---- GET /v1/groups/:groupId/members?after=&limit= (members)
export const GroupMembersQuerySchema = z.object({
  /** Members whose user id sorts after this one (the previous page's `nextAfter`). */
  after: UserIdSchema.optional(),
  limit: QuerySeqSchema.pipe(z.number().min(1).max(GROUP_MEMBERS_PAGE_MAX)).default(GROUP_MEMBERS_PAGE_DEFAULT),
});
export type GroupMembersQuery = z.infer<typeof GroupMembersQuerySchema>;
export const GroupMemberPageSchema = z.strictObject({
  /** By user id. */
  members: z.array(GroupMemberSchema),
  /** Pass as `after` for the next page; null when there are no more. */
  nextAfter: UserIdSchema.nullable(),
});
export type GroupMemberPage = z.infer<typeof GroupMemberPageSchema>;

/** One of your groups, as listed by `GET /v1/groups`. */
export const GroupSummarySchema = z.strictObject({
  groupId: GroupIdSchema,
  title: z.string(),
  /** The group's picture (a media id its members may download), or null. */
  picture: z.string().nullable(),
  role: GroupRoleSchema,
  memberCount: z.number().int().min(0),
});
export const GroupListSchema = z.strictObject({
  /** Newest group first. */
  groups: z.array(GroupSummarySchema),
  /** Pass as `before` for the next page; null when there are no more. */
  nextBefore: GroupIdSchema.nullable(),
});

// ---- GET /v1/groups?before=&limit= and GET /v1/invites?before=&limit=
export const GroupListQuerySchema = z.object({
  /** Return groups (invites) whose id is below this one (ids sort by creation). */
  before: GroupIdSchema.optional(),
  limit: QuerySeqSchema.pipe(z.number().min(1).max(HISTORY_MAX_LIMIT)).default(HISTORY_DEFAULT_LIMIT),
});
export type GroupListQuery = z.infer<typeof GroupListQuerySchema>;

/** An invite you received and have not answered. */
export const GroupInviteSchema = z.strictObject({
  groupId: GroupIdSchema,
  title: z.string(),
  memberCount: z.number().int().min(0),
  invitedBy: UserIdSchema,
  at: z.number().int(),
});
export type GroupInvite = z.infer<typeof GroupInviteSchema>;
export const InviteListSchema = z.strictObject({
  /** Newest group first. */
  invites: z.array(GroupInviteSchema),
  nextBefore: GroupIdSchema.nullable(),
});
export type InviteList = z.infer<typeof InviteListSchema>;

// ---- invite links: POST/GET/DELETE /v1/groups/:groupId/link (admins)
/** An invite link's code: 22 base64url characters (128 random bits); the link is `<origin>/#join/<code>` in the web client. */
export const LinkCodeSchema = z.string().regex(/^[A-Za-z0-9_-]{22}$/, 'expected an invite link code');
export const CreateLinkSchema = z.strictObject({
  /** Joining needs an admin's approval (requests wait in `GET /v1/groups/:groupId/requests`). */
  approval: z.boolean().default(false),
});
export type CreateLink = z.input<typeof CreateLinkSchema>;
export const GroupLinkSchema = z.strictObject({
  groupId: GroupIdSchema,
  code: LinkCodeSchema,
  approval: z.boolean(),
  createdBy: UserIdSchema,
  createdAt: z.number().int(),
});
export type GroupLink = z.infer<typeof GroupLinkSchema>;

// ---- GET /v1/links/:code (anyone logged in who has the code)
export const LinkPreviewSchema = z.strictObject({
  groupId: GroupIdSchema,
  title: z.string(),
  description: z.string(),
  memberCount: z.number().int().min(0),
  approval: z.boolean(),
});
export type LinkPreview = z.infer<typeof LinkPreviewSchema>;

// ---- POST /v1/links/:code/join
export const JoinResultSchema = z.discriminatedUnion('status', [
  z.strictObject({ status: z.literal('joined'), group: GroupSchema }),
  /** The link needs approval: an admin decides; you are told by a `member_joined` event in the group if approved. */
  z.strictObject({ status: z.literal('requested'), groupId: GroupIdSchema }),
]);
export type JoinResult = z.infer<typeof JoinResultSchema>;

// ---- GET /v1/groups/:groupId/requests (admins)
export const JoinRequestSchema = z.strictObject({ userId: UserIdSchema, at: z.number().int() });
export const JoinRequestListSchema = z.strictObject({ requests: z.array(JoinRequestSchema) });
export type JoinRequest = z.infer<typeof JoinRequestSchema>;
export type JoinRequestList = z.infer<typeof JoinRequestListSchema>;
export type GroupSummary = z.infer<typeof GroupSummarySchema>;
export type GroupList = z.infer<typeof GroupListSchema>;

// ---- POST /v1/groups
export const CreateGroupSchema = z.strictObject({
  title: Title,
  description: Description.optional(),
  /** Initial members besides you (you become the first admin); those whose `privacy.groups` does not let you add them are invited instead. */
  members: MemberList.default([]),
  onlyAdminsSend: z.boolean().optional(),
});
/** What a client sends (`members` may be left out). */
export type CreateGroup = z.input<typeof CreateGroupSchema>;

// ---- PATCH /v1/groups/:groupId (admins)
export const UpdateGroupSchema = z
  .strictObject({
    title: Title.optional(),
    description: Description.optional(),
    picture: Picture.optional(),
    onlyAdminsSend: z.boolean().optional(),
  })
  .refine((v) => Object.values(v).some((x) => x !== undefined), 'nothing to update');
export type UpdateGroup = z.infer<typeof UpdateGroupSchema>;

// ---- POST /v1/groups/:groupId/members (admins)
export const AddMembersSchema = z.strictObject({ members: MemberList.min(1) });
export type AddMembers = z.infer<typeof AddMembersSchema>;

// ---- GET /v1/groups/:groupId/messages?before=&beforeGseq=&limit= (newest first)
// A group copied into your mailbox is paged by mailbox seq (`before`). A large group (read
// diffusion, protocol/large-groups.ts) is read from its log above the switch (`beforeGseq`, items
// with `seq: null`), then from your mailbox below it: follow `nextBeforeGseq` while it is not
// null, then `nextBefore`.
export const GroupHistoryQuerySchema = z.object({
  before: QuerySeqSchema.optional(),
  /** Large groups: continue the log part strictly below this gseq (from `nextBeforeGseq`). */
  beforeGseq: QuerySeqSchema.optional(),
  limit: QuerySeqSchema.pipe(z.number().min(1).max(HISTORY_MAX_LIMIT)).default(HISTORY_DEFAULT_LIMIT),
});

export const GroupHistoryItemSchema = z.strictObject({
  /**
   * Position in *your* mailbox; pagination cursor and what `group_read` `upTo` names. Null for an
   * entry of a large group's log, which has no copy in your mailbox: its gseq names it.
   */
  seq: SeqSchema.nullable(),
  entry: GroupEntrySchema,
  /** Your messages: the tally when the page was read. Others' messages: whether you read them. */
  tally: GroupTallySchema.nullable(),
  read: z.boolean(),
});
export const GroupHistoryPageSchema = z.strictObject({
  entries: z.array(GroupHistoryItemSchema),
  /** Pass as `before` for the next page (after `nextBeforeGseq` is null); null when there are no more. */
  nextBefore: SeqSchema.nullable(),
  /** Large groups only: pass as `beforeGseq` for the next page while not null (the log part goes on). */
  nextBeforeGseq: GroupSeqSchema.nullable().optional(),
});
export type GroupHistoryItem = z.infer<typeof GroupHistoryItemSchema>;
export type GroupHistoryPage = z.infer<typeof GroupHistoryPageSchema>;

// ---- GET /v1/groups/:groupId/messages/:messageId/info (the sender only)
export const MessageInfoSchema = z.strictObject({
  messageId: MessageIdSchema,
  gseq: GroupSeqSchema,
  tally: GroupTallySchema,
  /** Members who have it, with when it first reached one of their devices (null once that is older than receipts are kept). */
  delivered: z.array(z.strictObject({ userId: UserIdSchema, at: z.number().int().nullable() })),
  /** Members who read it, with when. */
  read: z.array(z.strictObject({ userId: UserIdSchema, at: z.number().int().nullable() })),
});
export type MessageInfo = z.infer<typeof MessageInfoSchema>;
