/**
 * Zod without `new Function`: the page's Content-Security-Policy has no 'unsafe-eval', and zod's
 * default probe for it (a caught `new Function("")`) would still be reported as a policy
 * violation. Imported first by main.ts, because zod reads the setting when schemas are built.
 */
import { z } from 'zod';

z.config({ jitless: true });
