/**
 * Fresh, valid phone numbers for tests (German mobile range +49 151 and eight digits, which
 * libphonenumber accepts). Pure: used by both the runtime and the Node test projects.
 */
// Numbers step by 1,000 so each is in a block of 1,000 numbers of its own: code requests are
// limited per block (`otp_request_prefix`), and tests sign up many users a minute.
let block = Math.floor(Math.random() * 50_000);

/** A phone number no earlier call in this process returned, in a number block of its own. */
export function nextPhone(): string {
  block += 1;
  return `+49151${String(block).padStart(5, '0')}${String(Math.floor(Math.random() * 1000)).padStart(3, '0')}`;
}
