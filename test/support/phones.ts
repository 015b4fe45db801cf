/**
 * Fresh, valid phone numbers for tests (German mobile range +49 151 and eight digits, which
 * libphonenumber accepts). Pure: used by both the runtime and the Node test projects.
 */
let counter = Math.floor(Math.random() * 50_000_000);

/** A phone number no earlier call in this process returned. */
export function nextPhone(): string {
  counter += 1;
  return `+49151${String(counter).padStart(8, '0')}`;
}
