/**
 * Names others read (display names, about texts, group titles and descriptions, contact labels,
 * device names): each forbidden character class is refused, ordinary text in any script passes.
 */
import { describe, expect, it } from 'vitest';
import {
  AddContactSchema,
  CreateGroupSchema,
  nameProblem,
  ProfileUpdateSchema,
  UpdateGroupSchema,
  VerifyRequestSchema,
} from '../../protocol/index.ts';

const LONE_HIGH = '\uD83D';
const LONE_LOW = '\uDE00';

describe('nameProblem', () => {
  it.each([
    ['Zoë', null],
    ['Ann-Marie O’Neil', null],
    ['محمد', null],
    ['שלום עולם', null],
    ['山田 太郎', null],
    ['👩‍👩‍👧 family', null],
    ['Bob\u0000', 'control'],
    ['Bob\u0007bell', 'control'],
    ['line\nbreak', 'control'],
    ['del\u007F', 'control'],
    ['c1\u0085', 'control'],
    ['Bob\u202E\u2066 (admin)', 'bidi_control'],
    ['\u202Aembedded', 'bidi_control'],
    ['isolate\u2067x\u2069', 'bidi_control'],
    ['\u200B\u200B', 'invisible_only'],
    ['\u200D\uFEFF\u2060', 'invisible_only'],
    ['\u3164', 'invisible_only'],
    ['   ', 'invisible_only'],
    [`half ${LONE_HIGH}`, 'lone_surrogate'],
    [`${LONE_LOW}x`, 'lone_surrogate'],
  ] as const)('%j → %s', (value, problem) => {
    expect(nameProblem(value)).toBe(problem);
  });

  it('allows line feeds in multi-line fields only', () => {
    expect(nameProblem('two\nlines', { allowNewlines: true })).toBeNull();
    expect(nameProblem('tab\there', { allowNewlines: true })).toBe('control');
  });
});

describe('schemas with names', () => {
  const bad = ['Bob\u202E (admin)', '\u200B', `x${LONE_HIGH}`, 'nul\u0000'];

  it.each(bad)('refuse %j everywhere a name goes', (value) => {
    expect(ProfileUpdateSchema.safeParse({ displayName: value }).success).toBe(false);
    expect(CreateGroupSchema.safeParse({ title: value }).success).toBe(false);
    expect(UpdateGroupSchema.safeParse({ title: value }).success).toBe(false);
    expect(AddContactSchema.safeParse({ phone: '+4915112345678', name: value }).success).toBe(false);
    expect(VerifyRequestSchema.safeParse({ phone: '+4915112345678', code: '123456', challenge: 'a'.repeat(32), deviceName: value }).success).toBe(false);
  });

  it('refuse bidi controls, control characters and lone surrogates in about texts and descriptions, but allow empty ones and line feeds', () => {
    for (const value of ['x\u202Ey', 'x\u0000', `${LONE_LOW}`]) {
      expect(ProfileUpdateSchema.safeParse({ about: value }).success).toBe(false);
      expect(UpdateGroupSchema.safeParse({ description: value }).success).toBe(false);
    }
    expect(ProfileUpdateSchema.safeParse({ about: '' }).success).toBe(true);
    expect(UpdateGroupSchema.safeParse({ description: 'rules:\n1. be kind' }).success).toBe(true);
    expect(ProfileUpdateSchema.safeParse({ about: '\u200B' }).success).toBe(false);
  });

  it('trim names and keep a cleared contact label empty', () => {
    expect(ProfileUpdateSchema.parse({ displayName: '  Ann  ' })).toEqual({ displayName: 'Ann' });
    expect(AddContactSchema.parse({ phone: '+4915112345678', name: '   ' })).toEqual({ phone: '+4915112345678', name: '' });
    expect(AddContactSchema.parse({ phone: '+4915112345678', name: ' Mum ' })).toEqual({ phone: '+4915112345678', name: 'Mum' });
  });
});
