/**
 * Phone number normalisation: every number the API accepts is stored and compared in E.164, so
 * "+1 (415) 555-0100" and "+14155550100" are the same account.
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js/min';

/**
 * The E.164 form of a phone number, or null if it is not a valid number. The number must be in
 * international form: a leading `+`, or `00` (the common international dialling prefix), since
 * there is no default country to guess a national number against.
 *
 * @example
 * normalisePhone('+1 (415) 555-0100') // '+14155550100'
 * normalisePhone('0049 151 12345678') // '+4915112345678'
 * normalisePhone('4155550100')        // null
 */
export function normalisePhone(input: string): string | null {
  let candidate = input.trim();
  if (candidate.startsWith('00')) candidate = `+${candidate.slice(2)}`;
  if (!candidate.startsWith('+')) return null;
  // libphonenumber tolerates trailing junk and extensions ("+1 415 555 0100 ext. 2", "…x2");
  // an account identity must be exactly one number, so only digits and punctuation may appear.
  if (!/^\+[0-9\s().\-/]+$/.test(candidate)) return null;
  const parsed = parsePhoneNumberFromString(candidate);
  if (parsed === undefined || !parsed.isValid()) return null;
  return parsed.number;
}
