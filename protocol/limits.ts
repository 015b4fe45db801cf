/**
 * Protocol limits and fixed strings shared by server and clients. Changing one is a protocol change.
 */

export const PROTOCOL_VERSION = 1;

/** Largest WebSocket text frame the server accepts, in bytes (UTF-8). */
export const MAX_FRAME_BYTES = 64 * 1024;
/** Largest JSON HTTP request body, in bytes. */
export const MAX_HTTP_BODY_BYTES = 16 * 1024;
/** Longest text message, in UTF-16 code units (as JavaScript counts string length). */
export const MAX_TEXT_LENGTH = 16_384;
/** Client-generated message ids: 1..64 characters of [A-Za-z0-9_-]. */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Server ids (users, devices, messages) are ULIDs: 26 Crockford base32 characters. */
export const ULID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** History page size bounds. */
export const HISTORY_DEFAULT_LIMIT = 50;
export const HISTORY_MAX_LIMIT = 200;

/**
 * Heartbeat. The client sends exactly HEARTBEAT_PING (byte for byte) every HEARTBEAT_INTERVAL_MS;
 * the runtime answers HEARTBEAT_PONG without waking the Durable Object.
 */
export const HEARTBEAT_PING = '{"type":"ping"}';
export const HEARTBEAT_PONG = '{"type":"pong"}';
export const HEARTBEAT_INTERVAL_MS = 30_000;

/**
 * Flow control: the server sends at most this many mailbox entries to one connection beyond
 * what that connection has acknowledged; the rest follow as acks arrive.
 */
export const DELIVERY_WINDOW = 1_000;

/**
 * How long a client may hold the ack of mailbox entries nobody waits on (own copies, receipts,
 * read markers, events: anything but a message from someone else, whose sender waits for the
 * delivered tick). The server needs those acks only for the delivery window (clients ack a full
 * batch at once anyway, far below DELIVERY_WINDOW) and for the device's recorded cursor, which
 * may lag by design; group delivered watermarks only matter for other members' messages, which
 * are acked promptly. 1 s turns a chat's own copies and receipts into about one ack per second
 * instead of one per entry, and keeps what a crash can replay (as duplicates) to about a second.
 */
export const ACK_LAZY_MS = 1_000;

/** Most message ids in one `receipt` frame; longer lists arrive as several frames. */
export const RECEIPT_MAX_IDS = 256;

/** One-time code length and lifetime. */
export const OTP_LENGTH = 6;

/** Display names and "about" texts, in UTF-16 code units. */
export const DISPLAY_NAME_MAX = 64;
export const ABOUT_MAX = 140;
/** Your label for a contact. */
export const CONTACT_LABEL_MAX = 64;

/**
 * Most members a group can have (the creator included), counting pending invites, while it copies
 * every entry into every member's mailbox; also the most a group is created with.
 */
export const GROUP_MAX_MEMBERS = 1_024;
/**
 * Most members (and pending invites) of a large group: one read by diffusion (its log is read by
 * devices, entries are not copied into mailboxes), or one that switches to it with the change that
 * grows it. Only where the deployment turns read diffusion on (`GROUP_LOG_DELIVERY_MIN` > 0).
 */
export const GROUP_LOG_MAX_MEMBERS = 100_000;
/** Members listed in a group's view; larger groups are listed page by page (`GET /v1/groups/:id/members`). */
export const GROUP_VIEW_MEMBERS_MAX = 1_024;
/** Members per page of `GET /v1/groups/:id/members`: default and most. */
export const GROUP_MEMBERS_PAGE_DEFAULT = 200;
export const GROUP_MEMBERS_PAGE_MAX = 1_000;
/** Most user ids in one create or add-members request (larger groups are built in steps). */
export const GROUP_MEMBERS_PER_REQUEST = 256;
export const GROUP_TITLE_MAX = 100;
export const GROUP_DESCRIPTION_MAX = 512;
/** Most tallies in one `group_receipt` frame. */
export const GROUP_TALLY_MAX = 256;

/**
 * Typing indicators: show one for this long after the last `typing` frame unless `stopped`
 * arrives first; clients repeat `typing` about every TYPING_REPEAT_MS while the user types.
 */
export const TYPING_TTL_MS = 6_000;
export const TYPING_REPEAT_MS = 3_000;
/**
 * A repeat of the same typing state from one device in one conversation within this interval is
 * dropped without cost; every other typing frame costs the typing budgets (RATE_LIMITS), a change
 * of state included.
 */
export const TYPING_MIN_INTERVAL_MS = 1_000;

/**
 * Presence. A connection counts as online while its last heartbeat (or frame) is younger than
 * PRESENCE_STALE_MS (2.5 heartbeat intervals, so one lost ping is not "offline"); older ones
 * are ghost sockets and are closed. A connection watches at most PRESENCE_WATCH_MAX users.
 */
export const PRESENCE_STALE_MS = 75_000;
export const PRESENCE_WATCH_MAX = 32;
