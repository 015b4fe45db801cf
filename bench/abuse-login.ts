/**
 * Abuse findings over plain HTTP: code requests and guesses from one IP, locking an owner out,
 * walking phone numbers, names that reorder or hide text, and web headers and tokens in URLs.
 * Each replays what one client did in the issue and counts what the server lets through now.
 */
import WebSocket from 'ws';
import { OtpResponseSchema, PATHS, RATE_LIMITS } from '../protocol/index.ts';
import { avoidWindowEdge, call, fakeIp, outcome, showTally, tally, type Account, type Finding, type NumberPlan, type Reply } from './abuse-kit.ts';
import { mapPool } from './util.ts';

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** A challenge the attacker got for a number (from its own code requests). */
export type Issued = { phone: string; challenge: string; code: string };

/** 1. Code requests for 300 different numbers from one IP (127.0.0.1), as fast as possible. */
export async function codeRequests(base: URL, plan: NumberPlan): Promise<{ finding: Finding; phones: string[]; issued: Issued[] }> {
  const phones = Array.from({ length: 300 }, () => plan.spare());
  await avoidWindowEdge(60, 20_000);
  const t0 = performance.now();
  const replies = await mapPool(phones.length, 32, (i) => call(base, 'POST', PATHS.requestOtp, { body: { phone: phones[i] } }));
  const ms = performance.now() - t0;
  const issued: Issued[] = [];
  replies.forEach((r, i) => {
    if (r.status !== 200) return;
    const otp = OtpResponseSchema.parse(r.body);
    issued.push({ phone: phones[i]!, challenge: otp.challenge, code: otp.devCode ?? '' });
  });
  const counts = tally(replies.map(outcome));
  const limit = RATE_LIMITS.otp_request_ip.limit;
  return {
    phones,
    issued,
    finding: {
      id: 1,
      title: 'code requests, 300 numbers, one IP',
      before: 'all 300 sent in 2.4 s',
      now: `${issued.length} sent, ${replies.length - issued.length} refused (${showTally(counts)}) in ${secs(ms)}`,
      bounded: issued.length <= limit,
      data: { requests: replies.length, outcomes: counts, ms: Math.round(ms), limitPerMinute: limit },
    },
  };
}

const CHALLENGE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const randomChallenge = (): string => Array.from({ length: 32 }, () => CHALLENGE_ALPHABET[Math.floor(Math.random() * 64)]).join('');
const wrongCode = (code: string): string => String((Number(code || '0') + 1) % 1_000_000).padStart(6, '0');

/**
 * 2. 1,000 wrong verifications across 200 numbers from one IP (127.0.0.1), round robin. The
 * attacker presents its own challenge where finding 1 got it one, a made-up one elsewhere.
 */
export async function wrongGuesses(base: URL, phones: readonly string[], issued: readonly Issued[]): Promise<Finding> {
  const numbers = phones.slice(0, 200);
  const own = new Map(issued.map((i) => [i.phone, i]));
  const guesses = Array.from({ length: 1_000 }, (_, k) => numbers[k % numbers.length]!);
  await avoidWindowEdge(60, 20_000);
  const t0 = performance.now();
  const replies = await mapPool(guesses.length, 32, (k) => {
    const phone = guesses[k]!;
    const mine = own.get(phone);
    const body = { phone, code: mine ? wrongCode(mine.code) : '123456', challenge: mine?.challenge ?? randomChallenge() };
    return call(base, 'POST', PATHS.verifyOtp, { body });
  });
  const ms = performance.now() - t0;
  const counts = tally(replies.map(outcome));
  const by = (code: string): number => replies.filter((r) => r.code === code).length;
  const evaluated = by('otp_invalid') + by('otp_attempts_exceeded');
  const limit = RATE_LIMITS.otp_verify_ip.limit;
  return {
    id: 2,
    title: 'wrong verifications, 200 numbers, one IP',
    before: '1,000 guesses evaluated in 15 s',
    now:
      `${evaluated} evaluated as guesses (own challenges only), ${by('otp_expired')} otp_expired (no such challenge: nothing touched), ` +
      `${by('rate_limited')} refused rate_limited, in ${secs(ms)}`,
    bounded: evaluated + by('otp_expired') <= limit,
    data: { requests: replies.length, outcomes: counts, evaluated, ownChallenges: own.size, ms: Math.round(ms), verifyLimitPerMinute: limit },
  };
}

/**
 * 3. Lock-out: the owner asked for a code; a third party (another IP) asks for codes for the
 * owner's number, guesses 5 times and asks 4 more times. Can the owner still log in with its code?
 */
export async function lockOut(base: URL, owner: Account): Promise<Finding> {
  const ownerIp = fakeIp(60_000);
  const thirdIp = fakeIp(60_001);
  const mine = await call(base, 'POST', PATHS.requestOtp, { ip: ownerIp, body: { phone: owner.phone } });
  if (mine.status !== 200) throw new Error(`lock-out: the owner's code request -> ${outcome(mine)}`);
  const ownerOtp = OtpResponseSchema.parse(mine.body);

  const theirs = await call(base, 'POST', PATHS.requestOtp, { ip: thirdIp, body: { phone: owner.phone } });
  const third = theirs.status === 200 ? OtpResponseSchema.parse(theirs.body) : null;
  const guesses: Reply[] = [];
  for (let i = 0; i < 5; i++) {
    const body = { phone: owner.phone, code: wrongCode(third?.devCode ?? ownerOtp.devCode ?? ''), challenge: third?.challenge ?? randomChallenge() };
    guesses.push(await call(base, 'POST', PATHS.verifyOtp, { ip: thirdIp, body }));
  }
  const more: Reply[] = [];
  for (let i = 0; i < 4; i++) more.push(await call(base, 'POST', PATHS.requestOtp, { ip: thirdIp, body: { phone: owner.phone } }));

  const login = await call(base, 'POST', PATHS.verifyOtp, {
    ip: ownerIp,
    body: { phone: owner.phone, code: ownerOtp.devCode, challenge: ownerOtp.challenge, deviceName: 'owner again', platform: 'cli' },
  });
  const ok = login.status === 200;
  return {
    id: 3,
    title: 'lock-out of a number\'s owner',
    before: 'owner locked out 15 min',
    now:
      `owner logs in: ${ok ? 'yes' : `NO (${outcome(login)})`}; third party: code ${outcome(theirs)}, ` +
      `guesses ${showTally(tally(guesses.map(outcome)))}, more requests ${showTally(tally(more.map(outcome)))}`,
    bounded: ok,
    data: {
      thirdPartyRequest: outcome(theirs),
      thirdPartyGuesses: tally(guesses.map(outcome)),
      thirdPartyMoreRequests: tally(more.map(outcome)),
      retryAfterMs: more.map((r) => r.retryAfterMs),
      ownerLogin: outcome(login),
    },
  };
}

/** Which limit refused a look-up: the per-user phone budget or the per-device edge limit. */
function refusedBy(r: Reply): string {
  if (r.message.includes('look-up')) return 'phone_lookup_user';
  if (r.message.includes('HTTP requests')) return 'api_device';
  return r.code ?? String(r.status);
}

/** 9. `GET /v1/users/by-phone/…` for 2,000 consecutive numbers, one at a time. */
export async function phoneWalk(base: URL, looker: Account, plan: NumberPlan): Promise<Finding> {
  const numbers = plan.sequential(2_000);
  const keys: string[] = [];
  let firstRefusal: { index: number; ms: number; by: string } | null = null;
  const t0 = performance.now();
  for (let k = 0; k < numbers.length; k++) {
    const r = await call(base, 'GET', PATHS.userByPhone(numbers[k]!), { token: looker.token });
    const key = r.status === 429 ? `429 ${refusedBy(r)}` : outcome(r);
    keys.push(key);
    if (r.status === 429 && firstRefusal === null) firstRefusal = { index: k, ms: performance.now() - t0, by: refusedBy(r) };
  }
  const ms = performance.now() - t0;
  const counts = tally(keys);
  const answered = keys.filter((k) => k === '200' || k.startsWith('404')).length;
  const found = counts['200'] ?? 0;
  const budget = RATE_LIMITS.phone_lookup_user.burst;
  return {
    id: 9,
    title: 'phone look-ups, 2,000 consecutive numbers',
    before: '2,000 mapped in 14 s',
    now:
      `${answered} answered (${found} found, ${answered - found} not found), ${keys.length - answered} refused; ` +
      (firstRefusal ? `first refusal at #${firstRefusal.index + 1} after ${secs(firstRefusal.ms)} (${firstRefusal.by}); ` : '') +
      `all 2,000 took ${secs(ms)}`,
    bounded: answered <= budget,
    data: { outcomes: counts, answered, found, firstRefusal, ms: Math.round(ms), dailyBudget: budget },
  };
}

/** 11. Display names that reorder, hide or corrupt text (PATCH /v1/me). */
export async function badNames(base: URL, namer: Account): Promise<Finding> {
  const names: Record<string, string> = {
    bidi: 'Bob\u202E\u2066 (admin)',
    nul: 'Bob\u0000',
    zeroWidth: '\u200B\u200C\u200D\u2060',
    loneSurrogate: 'Bob\uD800',
  };
  const before = await call(base, 'GET', PATHS.me, { token: namer.token });
  const statuses: Record<string, string> = {};
  for (const [label, displayName] of Object.entries(names)) {
    statuses[label] = outcome(await call(base, 'PATCH', PATHS.me, { token: namer.token, body: { displayName } }));
  }
  const after = await call(base, 'GET', PATHS.me, { token: namer.token });
  const unchanged = JSON.stringify(before.body) === JSON.stringify(after.body);
  const refused = Object.values(statuses).filter((s) => s.startsWith('400')).length;
  return {
    id: 11,
    title: 'names: bidi, NUL, invisible, lone surrogate',
    before: 'all accepted; the lone surrogate silently changed',
    now: `${Object.entries(statuses).map(([k, v]) => `${k} ${v}`).join('; ')}; profile ${unchanged ? 'unchanged' : 'CHANGED'}`,
    bounded: refused === Object.keys(names).length && unchanged,
    data: { statuses, profileUnchanged: unchanged },
  };
}

const SECURITY_HEADERS = ['content-security-policy', 'x-frame-options', 'referrer-policy', 'x-content-type-options'] as const;

/** The status (and error code) a WebSocket upgrade to `url` gets; 101 if it opened. */
function upgradeStatus(url: string): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 10_000 });
    ws.on('open', () => {
      ws.terminate();
      resolve('101 opened');
    });
    ws.on('unexpected-response', (req, res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => {
        let code: string;
        try {
          code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? '';
        } catch {
          code = '';
        }
        req.destroy();
        resolve(`${res.statusCode ?? 0}${code ? ` ${code}` : ''}`);
      });
    });
    ws.on('error', (error) => resolve(`failed: ${error.message}`));
  });
}

/** 12. Security headers on the page and the API; the token in a URL with an upgrade. */
export async function webHeaders(base: URL, wsBase: string, user: Account): Promise<Finding> {
  const present = async (path: string): Promise<{ status: number; missing: string[]; headers: Record<string, string> }> => {
    const r = await call(base, 'GET', path);
    const headers = Object.fromEntries(SECURITY_HEADERS.map((h) => [h, r.headers.get(h) ?? '']));
    return { status: r.status, missing: SECURITY_HEADERS.filter((h) => !headers[h]), headers };
  };
  const page = await present('/');
  const health = await present(PATHS.health);
  const token = encodeURIComponent(user.token);
  const connect = await upgradeStatus(`${wsBase}${PATHS.connect}?token=${token}`);
  const me = await upgradeStatus(`${wsBase}${PATHS.me}?token=${token}`);
  const headerText = (p: typeof page): string => (p.missing.length ? `missing ${p.missing.join(', ')}` : 'all 4 headers');
  return {
    id: 12,
    title: 'web headers; token in the URL with Upgrade',
    before: 'headers absent; ?token= accepted',
    now:
      `GET / ${page.status} ${headerText(page)}; /v1/health ${health.status} ${headerText(health)}; ` +
      `/v1/connect?token= ${connect}; /v1/me?token= ${me}`,
    bounded: page.missing.length === 0 && health.missing.length === 0 && !connect.startsWith('101') && !me.startsWith('101') && !me.startsWith('200'),
    data: { page, health, connectWithToken: connect, meWithToken: me },
  };
}
