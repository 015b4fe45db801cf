/**
 * Push notifications: what a provider is given and what it answers. Providers (FCM, APNs,
 * webhook, the local sink) turn one notification for one device token into one HTTP request
 * and classify the answer; retries, token removal and counting happen in the consumer.
 *
 * This module and worker/push/providers/ use only standard APIs (fetch, WebCrypto), so they run in the
 * Workers runtime and in Node (the provider tests talk to a local HTTP server from Node).
 */

export type PushPlatform = 'apns' | 'fcm' | 'webhook';

/** One registered device token. */
export interface PushTarget {
  userId: string;
  deviceId: string;
  platform: PushPlatform;
  /** The provider's device token (APNs device token, FCM registration token, webhook subscriber token). */
  token: string;
}

/** What to show. Content-free unless the user enabled previews (then `body` holds a snippet). */
export interface PushNotification {
  /** `message`: one new message; `summary`: many folded into one (quiet hours, mute ended). */
  kind: 'message' | 'summary';
  title: string;
  body: string;
  /** The chat to open on tap, or null for a summary over several chats. */
  conversation: { kind: 'direct' | 'group'; id: string } | null;
  messageId: string | null;
  /** Unread messages waiting for the user, for the app badge (null: leave the badge alone). */
  badge: number | null;
  /** Newer notifications with the same key replace older ones on the device (APNs collapse id, FCM collapse key / tag). */
  collapseKey: string;
  /** Deliver without sound or alert (e.g. a summary during quiet hours). */
  silent: boolean;
}

/** How a provider's answer is to be handled. */
export type PushOutcome =
  | { status: 'sent'; id?: string }
  /** Transient (5xx, 429, network, expired auth that was refreshed): try again later. */
  | { status: 'retry'; reason: string; retryAfterSeconds?: number }
  /** The token is dead (unregistered, bad device token): remove it, do not retry. */
  | { status: 'invalid_token'; reason: string }
  /** Permanent failure of this notification (bad request, misconfiguration): count it, do not retry. */
  | { status: 'failed'; reason: string };

export interface PushProvider {
  /** `fcm`, `apns`, `webhook` or `sink`: the label in metrics. */
  readonly name: string;
  send(target: PushTarget, notification: PushNotification): Promise<PushOutcome>;
}

/** The `fetch` a provider uses (injectable for tests). */
export type FetchFn = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
