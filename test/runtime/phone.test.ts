// normalisePhone: what the API accepts as a phone number and the E.164 form it stores.
import { describe, expect, it } from 'vitest';
import { normalisePhone } from '../../worker/auth/phone.ts';

describe('normalisePhone', () => {
  it.each([
    ['+14155550100', '+14155550100'],
    ['+14155550199', '+14155550199'],
    ['+1 (415) 555-0100', '+14155550100'],
    ['+1-415-555-0100', '+14155550100'],
    ['+1.415.555.0150', '+14155550150'],
    ['  +14155550100  ', '+14155550100'],
    ['+4915112345678', '+4915112345678'],
    ['+49 151 1234 5678', '+4915112345678'],
    ['+49 (0)151 12345678', '+4915112345678'],
    ['0049 151 12345678', '+4915112345678'],
    ['0014155550100', '+14155550100'],
    ['+33 6 12 34 56 78', '+33612345678'],
    ['+14155550100\n', '+14155550100'],
  ])('normalises %j to %s', (input, expected) => {
    expect(normalisePhone(input)).toBe(expected);
  });

  it('maps different notations of one number to the same E.164 string', () => {
    const forms = ['+14155550123', '+1 415 555 0123', '+1 (415) 555-0123', '001 415 555 0123'];
    expect(new Set(forms.map(normalisePhone))).toEqual(new Set(['+14155550123']));
  });

  it.each([
    ['', 'empty'],
    ['   ', 'blank'],
    ['4155550100', 'national number without country code (no default country)'],
    ['14155550100', 'country code without + or 00'],
    ['0151 12345678', 'national German notation'],
    ['+15555550123', '555-01xx outside the fictional 415 range is not a valid number'],
    ['+1415555010', 'too short'],
    ['+141555501000', 'too long'],
    ['+999123456789', 'no such country code'],
    ['+', 'only a plus'],
    ['++14155550100', 'double plus'],
    ['+1 415 555 0100 ext. 2', 'extension'],
    ['+14155550100x2', 'short extension'],
    ['+14155550100;ext=2', 'RFC 3966 extension'],
    ['tel:+14155550100', 'URI'],
    ['+1 415 CALL NOW', 'letters'],
  ])('rejects %j (%s)', (input) => {
    expect(normalisePhone(input)).toBeNull();
  });

  it('accepts the whole fictional 415-555-01xx test block', () => {
    for (let i = 0; i < 100; i++) {
      const phone = `+1415555${String(100 + i).padStart(4, '0')}`;
      expect(normalisePhone(phone)).toBe(phone);
    }
  });

  it('always returns E.164 (plus and at most 15 digits) when it returns anything', () => {
    for (const input of ['+49 151 1234 5678', '+1 (415) 555-0100', '0033612345678']) {
      expect(normalisePhone(input)).toMatch(/^\+[1-9][0-9]{6,14}$/);
    }
  });
});
