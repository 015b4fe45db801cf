/**
 * The login's PIN step: the code was right, but the account has a two-step verification PIN.
 * Shows how many wrong PINs are left before waits start, the wait after too many ("Try again in
 * 4 minutes", from `pin_locked`'s retryAfterMs, counting down), and "Forgot PIN?", which asks for
 * a reset: it takes effect after a waiting period (PIN_RESET_WAIT_MS), shown as a date, and the
 * account's devices are told at once.
 */
import { MessengerError, type MessengerClient, type SessionResponse } from '../../../client/index.ts';
import { PIN_LENGTH, type PinRequiredResponse } from '../../../protocol/index.ts';
import { busy, errorLine, field, h, replaceChildren, setText } from '../dom.ts';
import { friendlyError } from '../errors.ts';
import { formatDateTime, formatWait } from '../format.ts';

export interface PinStepOptions {
  /** The login card to draw into. */
  card: HTMLElement;
  client: MessengerClient;
  required: PinRequiredResponse;
  onSession(session: SessionResponse): void;
  /** The challenge is spent or expired: start again with the phone number. */
  onRestart(): void;
}

/** "You have 3 tries left." (waits start after them) */
function attemptsText(left: number): string {
  if (left <= 0) return 'Each wrong PIN now makes you wait before you can try again.';
  return left === 1 ? 'You have 1 try left before you have to wait.' : `You have ${left} tries left before you have to wait.`;
}

function resetText(resetAt: number): string {
  return `A PIN reset was requested. From ${formatDateTime(resetAt)} you can log in without the PIN; until then, use your PIN.`;
}

export function showPinStep(options: PinStepOptions): void {
  const { card, client, required } = options;
  let attemptsLeft = required.attemptsLeft;
  const pin = h('input', {
    type: 'password',
    name: 'pin',
    autocomplete: 'off',
    inputmode: 'numeric',
    pattern: `[0-9]{${PIN_LENGTH}}`,
    maxlength: PIN_LENGTH,
    required: true,
    'data-testid': 'login-pin',
  });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'login-pin-submit' }, 'Continue');
  const attempts = h('p', { class: 'hint', 'data-testid': 'login-pin-attempts' }, attemptsText(attemptsLeft));
  const lock = h('p', { class: 'notice', role: 'status', 'data-testid': 'login-pin-locked', hidden: true });
  const reset = h('p', { class: 'notice', role: 'status', 'data-testid': 'login-pin-reset', hidden: required.resetAt === null });
  if (required.resetAt !== null) setText(reset, resetText(required.resetAt));
  const error = errorLine('login-error');
  const forgot = h('button', { type: 'button', class: 'link', 'data-testid': 'login-pin-forgot' }, 'Forgot PIN?');
  const restart = h('button', { type: 'button', class: 'link', on: { click: () => options.onRestart() } }, 'Use another number');

  // After too many wrong PINs the server names the wait; count it down, then allow the next try.
  let lockedUntil = 0;
  let timer: number | undefined;
  const tick = (): void => {
    const left = lockedUntil - Date.now();
    if (left <= 0 || !lock.isConnected) {
      window.clearInterval(timer);
      timer = undefined;
      lock.hidden = true;
      submit.disabled = false;
      return;
    }
    setText(lock, `Too many wrong PINs. Try again in ${formatWait(left)}.`);
    lock.hidden = false;
    submit.disabled = true;
  };
  const lockFor = (ms: number): void => {
    lockedUntil = Date.now() + ms;
    tick();
    if (timer === undefined) timer = window.setInterval(tick, 1_000);
  };

  forgot.addEventListener('click', () => {
    if (!window.confirm('Reset your PIN? For your safety the reset takes effect after a waiting period, and your other devices are told. Until then you can still log in with your PIN.')) return;
    error.clear();
    forgot.disabled = true;
    client.requestPinReset(required.pinChallenge).then(
      (answer) => {
        forgot.disabled = false;
        setText(reset, resetText(answer.resetAt));
        reset.hidden = false;
      },
      (e: unknown) => {
        forgot.disabled = false;
        showError(e);
      },
    );
  });

  const showError = (e: unknown): void => {
    if (e instanceof MessengerError && e.code === 'pin_locked' && e.retryAfterMs !== undefined) {
      error.clear();
      lockFor(e.retryAfterMs);
      return;
    }
    error.show(friendlyError(e));
  };

  const form = h(
    'form',
    { class: 'login-form', novalidate: true },
    h('p', {}, 'This account is protected with two-step verification. Enter your PIN to continue.'),
    field('PIN', pin),
    attempts,
    lock,
    reset,
    error.el,
    submit,
    forgot,
    restart,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = pin.value.trim();
    if (!new RegExp(`^[0-9]{${PIN_LENGTH}}$`).test(value)) {
      error.show(`The PIN has ${PIN_LENGTH} digits.`);
      pin.focus();
      return;
    }
    if (Date.now() < lockedUntil) return;
    error.clear();
    busy(submit, true, 'Checking…');
    client.enterPin(required.pinChallenge, value).then(
      (session) => options.onSession(session),
      (e: unknown) => {
        busy(submit, false, 'Continue');
        if (e instanceof MessengerError && e.code === 'pin_invalid') {
          attemptsLeft = Math.max(0, attemptsLeft - 1);
          setText(attempts, attemptsText(attemptsLeft));
        }
        showError(e);
        if (e instanceof MessengerError && e.code === 'pin_challenge_invalid') {
          submit.disabled = true;
          restart.focus();
          return;
        }
        pin.select();
        pin.focus();
      },
    );
  });
  replaceChildren(card, h('h1', { id: 'login-title' }, 'Two-step verification'), form);
  pin.focus();
}
