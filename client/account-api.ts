/**
 * The account endpoints of the typed HTTP API: logging in (code, PIN, PIN reset), renewing
 * sessions, connect tickets, your profile and devices, the two-step PIN, account deletion, and
 * push registration. `MessengerApi` (http.ts) builds on this class.
 */
import {
  ConnectTicketSchema,
  DeviceListSchema,
  HealthSchema,
  OtpResponseSchema,
  PATHS,
  PinResetResponseSchema,
  PinStatusSchema,
  ProfileSchema,
  PushRegistrationSchema,
  SessionResponseSchema,
  VerifyResponseSchema,
} from '../protocol/index.ts';
import type {
  ConnectTicket,
  DeleteAccount,
  DeviceList,
  Health,
  OtpResponse,
  PinLogin,
  PinResetResponse,
  PinStatus,
  Profile,
  ProfileUpdate,
  PushPlatformName,
  PushRegistration,
  PushTokenRequest,
  RemovePin,
  SessionResponse,
  SetPin,
  VerifyRequest,
  VerifyResponse,
} from '../protocol/index.ts';
import { ApiBase, MessengerError } from './transport.ts';

/** Whether a verify answer asks for the two-step PIN (else it is a session). */
export function isPinRequired(response: VerifyResponse): response is Extract<VerifyResponse, { pinRequired: true }> {
  return 'pinRequired' in response;
}

export class AccountApi extends ApiBase {
  /**
   * POST /v1/auth/otp: text a one-time code to `phone`. The answer's `challenge` must accompany
   * the code in `verifyOtp`; `resendAt` is the earliest time another code can be requested.
   * Too many requests: `otp_rate_limited` / `rate_limited` with `retryAfterMs`.
   */
  requestOtp(phone: string, signal?: AbortSignal): Promise<OtpResponse> {
    return this.request({ method: 'POST', path: PATHS.requestOtp, body: { phone }, auth: false, schema: OtpResponseSchema, signal });
  }

  /**
   * POST /v1/auth/verify: exchange the code (with the `challenge` of the `requestOtp` answer that
   * sent it) for a session, or, when the account has a two-step PIN, for a `pinRequired` answer
   * whose `pinChallenge` goes to {@link pinLogin} with the PIN (see {@link isPinRequired}).
   * Does not store the token; see `MessengerClient.completeLogin` for that.
   *
   * @example
   * const answer = await api.verifyOtp({ phone, code, challenge });
   * const session = isPinRequired(answer) ? await api.pinLogin({ pinChallenge: answer.pinChallenge, pin }) : answer;
   */
  verifyOtp(request: VerifyRequest, signal?: AbortSignal): Promise<VerifyResponse> {
    return this.request({ method: 'POST', path: PATHS.verifyOtp, body: request, auth: false, schema: VerifyResponseSchema, signal });
  }

  /**
   * POST /v1/auth/pin: complete a login that asked for the two-step PIN. A wrong PIN is
   * `pin_invalid` (the challenge stays usable); after PIN_FREE_ATTEMPTS wrong ones `pin_locked`
   * with `retryAfterMs`; an expired or used challenge `pin_challenge_invalid`.
   */
  pinLogin(body: PinLogin, signal?: AbortSignal): Promise<SessionResponse> {
    return this.request({ method: 'POST', path: PATHS.pinLogin, body, auth: false, schema: SessionResponseSchema, signal });
  }

  /**
   * POST /v1/auth/pin/reset: forgot the PIN. The reset takes effect at `resetAt` (after
   * PIN_RESET_WAIT_MS; every device of the account is told at once); logging in after that needs
   * no PIN. Changing the PIN from a logged-in device before then cancels it.
   */
  requestPinReset(pinChallenge: string, signal?: AbortSignal): Promise<PinResetResponse> {
    const body = { pinChallenge };
    return this.request({ method: 'POST', path: PATHS.pinReset, body, auth: false, schema: PinResetResponseSchema, signal });
  }

  /**
   * POST /v1/auth/refresh: renew a session with its refresh token. Answers a new token *and a new
   * refresh token*: the old one is spent, and presenting it again logs the device out
   * (`refresh_invalid`). `MessengerClient` does this for you, once at a time.
   */
  refresh(refreshToken: string, signal?: AbortSignal): Promise<SessionResponse> {
    const body = { refreshToken };
    return this.request({ method: 'POST', path: PATHS.refresh, body, auth: false, schema: SessionResponseSchema, signal });
  }

  /**
   * POST /v1/connect/ticket: a single-use ticket, valid for CONNECT_TICKET_TTL_MS, to open the
   * WebSocket with (`/v1/connect?ticket=`), so the bearer token never appears in a URL.
   * The Connection fetches one before every attempt; apps rarely call this themselves.
   */
  connectTicket(signal?: AbortSignal): Promise<ConnectTicket> {
    return this.request({ method: 'POST', path: PATHS.connectTicket, auth: true, schema: ConnectTicketSchema, signal });
  }

  /** POST /v1/auth/logout: log this device out (its tokens stop working). */
  logout(signal?: AbortSignal): Promise<void> {
    return this.request({ method: 'POST', path: PATHS.logout, auth: true, schema: null, signal });
  }

  /** GET /v1/me: your own profile (includes your phone number). */
  me(signal?: AbortSignal): Promise<Profile> {
    return this.request({ method: 'GET', path: PATHS.me, auth: true, schema: ProfileSchema, signal });
  }

  /** PATCH /v1/me: change display name and/or about text. */
  updateMe(update: ProfileUpdate, signal?: AbortSignal): Promise<Profile> {
    return this.request({ method: 'PATCH', path: PATHS.me, body: update, auth: true, schema: ProfileSchema, signal });
  }

  /**
   * DELETE /v1/me: delete the account for good (204). `phone` (any notation) must be the
   * account's number (`confirmation_mismatch` otherwise). Profile, devices, contacts, blocks,
   * push tokens, mailbox and group memberships go; the number is free again. A device younger
   * than NEW_DEVICE_TRUST_MS that did not enter the PIN gets `device_too_new`.
   */
  deleteAccount(phone: string, signal?: AbortSignal): Promise<void> {
    const body: DeleteAccount = { phone };
    return this.request({ method: 'DELETE', path: PATHS.me, body, auth: true, schema: null, signal });
  }

  /** GET /v1/users/:id: a user's profile (`about` is '' unless their privacy lets you see it). */
  user(userId: string, signal?: AbortSignal): Promise<Profile> {
    return this.request({ method: 'GET', path: PATHS.user(userId), auth: true, schema: ProfileSchema, signal });
  }

  /** GET /v1/users/by-phone/:phone: find someone by phone number (any common notation). */
  userByPhone(phone: string, signal?: AbortSignal): Promise<Profile> {
    return this.request({ method: 'GET', path: PATHS.userByPhone(phone), auth: true, schema: ProfileSchema, signal });
  }

  /** GET /v1/devices: your logged-in devices. */
  devices(signal?: AbortSignal): Promise<DeviceList> {
    return this.request({ method: 'GET', path: PATHS.devices, auth: true, schema: DeviceListSchema, signal });
  }

  /** DELETE /v1/devices/:id: log one of your devices out (`device_too_new` from a new device without the PIN). */
  revokeDevice(deviceId: string, signal?: AbortSignal): Promise<void> {
    return this.request({ method: 'DELETE', path: PATHS.device(deviceId), auth: true, schema: null, signal });
  }

  // ------------------------------------------------------------ two-step PIN

  /** GET /v1/me/pin: whether a PIN is set, and when a requested reset takes effect. */
  pinStatus(signal?: AbortSignal): Promise<PinStatus> {
    return this.request({ method: 'GET', path: PATHS.pin, auth: true, schema: PinStatusSchema, signal });
  }

  /**
   * PUT /v1/me/pin: set the PIN, or change it (`currentPin` required then; `pin_invalid` when
   * wrong). Cancels a pending reset. `device_too_new` from a new device that did not enter it.
   *
   * @example
   * await api.setPin({ pin: '246810' });
   * await api.setPin({ pin: '135790', currentPin: '246810' });
   */
  setPin(body: SetPin, signal?: AbortSignal): Promise<void> {
    return this.request({ method: 'PUT', path: PATHS.pin, body, auth: true, schema: null, signal });
  }

  /** DELETE /v1/me/pin: turn the PIN off (`pin_invalid` for a wrong `currentPin`, `pin_not_set` when there is none). */
  removePin(currentPin: string, signal?: AbortSignal): Promise<void> {
    const body: RemovePin = { currentPin };
    return this.request({ method: 'DELETE', path: PATHS.pin, body, auth: true, schema: null, signal });
  }

  // ------------------------------------------------------------ push notifications

  /**
   * PUT /v1/devices/current/push: register (or replace) this device's push token, so messages
   * that arrive while it is not connected reach it as pushes. A token another account's
   * logged-in device holds is refused with `push_token_in_use`.
   *
   * @example
   * await api.registerPushToken('fcm', registrationToken);
   */
  registerPushToken(platform: PushPlatformName, token: string, signal?: AbortSignal): Promise<PushRegistration> {
    const body: PushTokenRequest = { platform, token };
    return this.request({ method: 'PUT', path: PATHS.pushToken, body, auth: true, schema: PushRegistrationSchema, signal });
  }

  /**
   * GET /v1/devices/current/push: this device's push registration, or null when it has none
   * (the server's 404 `not_found`).
   *
   * @example
   * if ((await api.pushRegistration()) === null) await api.registerPushToken('apns', deviceToken);
   */
  async pushRegistration(signal?: AbortSignal): Promise<PushRegistration | null> {
    try {
      return await this.request({ method: 'GET', path: PATHS.pushToken, auth: true, schema: PushRegistrationSchema, signal });
    } catch (error) {
      if (error instanceof MessengerError && error.code === 'not_found') return null;
      throw error;
    }
  }

  /** DELETE /v1/devices/current/push: stop pushes to this device (204; a no-op when none is registered). */
  unregisterPushToken(signal?: AbortSignal): Promise<void> {
    return this.request({ method: 'DELETE', path: PATHS.pushToken, auth: true, schema: null, signal });
  }

  /** GET /v1/health (no auth). */
  health(signal?: AbortSignal): Promise<Health> {
    return this.request({ method: 'GET', path: PATHS.health, auth: false, schema: HealthSchema, signal });
  }
}
