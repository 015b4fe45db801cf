/**
 * Login: phone number, then the one-time code, then (when the account has one) the two-step
 * verification PIN (login-pin.ts). A development server (the `dev` SMS provider) returns the code
 * in its answer (`devCode`); it is shown and filled in so a newcomer can log in without SMS. New
 * users may give a display name on the way.
 *
 * The code request answers a `challenge` that the verify call must carry (it binds the code to
 * this browser), and `resendAt`, the earliest time another code can be requested: the code step
 * counts down to it ("Resend code in 0:30") before it offers "Send a new code". A new code comes
 * with a new challenge. Rate limits say in words how long to wait.
 *
 * The steps talk to the server through a MessengerClient of their own that never connects; the
 * session it ends with is saved (session.ts) and the app starts its own client from it.
 */
import { MessengerClient, MessengerError } from '../../../client/index.ts';
import type { OtpResponse, SessionResponse } from '../../../client/index.ts';
import { OTP_LENGTH, OTP_RESEND_WAITS_MS } from '../../../protocol/index.ts';
import { busy, errorLine, field, h, replaceChildren, setText } from '../dom.ts';
import { friendlyError } from '../errors.ts';
import { formatCountdown } from '../format.ts';
import { saveSession, type Session } from '../session.ts';
import { showPinStep } from './login-pin.ts';

/** The longest wait the server imposes between two codes: a countdown never shows more. */
const LONGEST_RESEND_WAIT_MS = Math.max(...OTP_RESEND_WAITS_MS);

export interface LoginOptions {
  baseUrl: string;
  /** Shown above the form, e.g. why the user was logged out. */
  notice?: string;
  onLoggedIn(session: Session): void;
}

/** A device name such as "Chrome on Linux" for the user's device list. */
function deviceName(): string {
  const ua = navigator.userAgent;
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrome\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  const os = /Android/.test(ua)
    ? 'Android'
    : /iPhone|iPad/.test(ua)
      ? 'iOS'
      : /Windows/.test(ua)
        ? 'Windows'
        : /Mac OS/.test(ua)
          ? 'macOS'
          : /Linux/.test(ua)
            ? 'Linux'
            : 'the web';
  return `${browser} on ${os}`;
}

export function renderLogin(root: HTMLElement, options: LoginOptions): void {
  const client = new MessengerClient({ baseUrl: options.baseUrl, device: { deviceName: deviceName(), platform: 'web' } });
  const card = h('section', { class: 'login-card', 'aria-labelledby': 'login-title' });
  root.replaceChildren(
    h(
      'main',
      { class: 'login', 'data-testid': 'login' },
      h('div', { class: 'login-brand', 'aria-hidden': 'true' }, h('span', { class: 'login-logo' }), 'Messenger'),
      card,
    ),
  );
  showPhoneStep();

  function showPhoneStep(prefill = ''): void {
    const phone = h('input', {
      type: 'tel',
      name: 'phone',
      autocomplete: 'tel',
      inputmode: 'tel',
      required: true,
      minlength: 3,
      maxlength: 32,
      placeholder: '+49 151 23456789',
      value: prefill,
      'data-testid': 'login-phone',
    });
    const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'login-next' }, 'Next');
    const error = errorLine('login-error');
    const form = h(
      'form',
      { class: 'login-form', novalidate: true },
      field('Phone number', phone, 'With the country code. We send you a 6-digit code.'),
      error.el,
      submit,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const value = phone.value.trim();
      if (value.length < 3) {
        error.show('Enter your phone number, including the country code.');
        phone.focus();
        return;
      }
      error.clear();
      busy(submit, true, 'Sending code…');
      client.requestCode(value).then(
        (otp) => showCodeStep(otp),
        (e: unknown) => {
          busy(submit, false, 'Next');
          error.show(friendlyError(e));
          phone.focus();
        },
      );
    });
    replaceChildren(
      card,
      h('h1', { id: 'login-title' }, 'Log in'),
      options.notice === undefined ? null : h('p', { class: 'notice', role: 'status', 'data-testid': 'login-notice' }, options.notice),
      form,
    );
    phone.focus();
  }

  function showCodeStep(first: OtpResponse): void {
    let otp = first;
    const code = h('input', {
      type: 'text',
      name: 'code',
      autocomplete: 'one-time-code',
      inputmode: 'numeric',
      pattern: `[0-9]{${OTP_LENGTH}}`,
      maxlength: OTP_LENGTH,
      required: true,
      value: otp.devCode ?? '',
      'data-testid': 'login-code',
    });
    const name = h('input', { type: 'text', name: 'name', autocomplete: 'name', maxlength: 64, dir: 'auto', 'data-testid': 'login-name' });
    const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'login-submit' }, 'Log in');
    const back = h('button', { type: 'button', class: 'link', on: { click: () => showPhoneStep(otp.phone) } }, 'Use another number');
    const error = errorLine('login-error');
    const devNote = h('div', {});
    const showDevNote = (): void => {
      replaceChildren(
        devNote,
        otp.devCode === undefined
          ? null
          : h(
              'p',
              { class: 'dev-note', 'data-testid': 'login-devcode-note' },
              'Development server: no SMS is sent. Your code is ',
              h('strong', {}, otp.devCode),
              ' and it is filled in for you.',
            ),
      );
    };
    showDevNote();

    // "Resend code in 0:30", then a button. resendAt is the server's clock; a countdown that ends
    // early because this clock is off just gets an otp_rate_limited answer with the exact wait.
    const countdown = h('span', { 'data-testid': 'login-resend-wait' });
    const resend = h('button', { type: 'button', class: 'link', 'data-testid': 'login-resend', hidden: true }, 'Send a new code');
    const resendLine = h('p', { class: 'resend-line', 'aria-live': 'off' }, countdown, resend);
    let resendAt = 0;
    let timer: number | undefined;
    const tick = (): void => {
      if (!resendLine.isConnected) {
        // The user went back to the phone step (or logged in): stop counting.
        window.clearInterval(timer);
        timer = undefined;
        return;
      }
      const left = resendAt - Date.now();
      countdown.hidden = left <= 0;
      resend.hidden = left > 0;
      if (left > 0) {
        setText(countdown, `Resend code in ${formatCountdown(left)}`);
        return;
      }
      window.clearInterval(timer);
      timer = undefined;
    };
    const resendAfter = (at: number): void => {
      resendAt = Math.min(at, Date.now() + LONGEST_RESEND_WAIT_MS);
      tick();
      if (timer === undefined && resendAt > Date.now()) timer = window.setInterval(tick, 1_000);
    };
    resend.addEventListener('click', () => {
      error.clear();
      resend.disabled = true;
      client.requestCode(otp.phone).then(
        (next) => {
          resend.disabled = false;
          otp = next;
          code.value = next.devCode ?? '';
          showDevNote();
          resendAfter(next.resendAt);
          (next.devCode === undefined ? code : name).focus();
        },
        (e: unknown) => {
          resend.disabled = false;
          error.show(friendlyError(e));
          if (e instanceof MessengerError && e.retryAfterMs !== undefined) resendAfter(Date.now() + e.retryAfterMs);
        },
      );
    });

    const form = h(
      'form',
      { class: 'login-form', novalidate: true },
      h('p', {}, 'Enter the code sent to ', h('strong', {}, otp.phone), '.'),
      devNote,
      field('Code', code),
      resendLine,
      field('Your name (optional)', name, 'Shown to the people you chat with.'),
      error.el,
      submit,
      back,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const value = code.value.trim();
      if (!new RegExp(`^[0-9]{${OTP_LENGTH}}$`).test(value)) {
        error.show(`The code has ${OTP_LENGTH} digits.`);
        code.focus();
        return;
      }
      error.clear();
      busy(submit, true, 'Logging in…');
      const phone = otp.phone;
      const displayName = name.value.trim();
      client.completeLogin({ phone, code: value, challenge: otp.challenge }).then(
        (answer) => {
          if ('pinRequired' in answer) {
            showPinStep({ card, client, required: answer, onSession: (session) => void finish(session, phone, displayName), onRestart: () => showPhoneStep(phone) });
            return;
          }
          void finish(answer, phone, displayName);
        },
        (e: unknown) => {
          busy(submit, false, 'Log in');
          error.show(friendlyError(e));
          code.focus();
        },
      );
    });
    replaceChildren(card, h('h1', { id: 'login-title' }, 'Enter code'), form);
    resendAfter(otp.resendAt);
    (otp.devCode === undefined ? code : name).focus();
  }

  /** Keep the session, set the name the user gave, and hand over to the app. */
  async function finish(session: SessionResponse, phone: string, displayName: string): Promise<void> {
    const saved = saveSession(session, phone);
    // A name is a nicety: logging in must not fail because of it.
    if (displayName !== '') await client.api.updateMe({ displayName }).catch(() => undefined);
    // This client's job is done; the app's own client takes over the session from storage.
    client.close();
    options.onLoggedIn(saved);
  }
}
