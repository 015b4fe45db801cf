/** Types of dev-vars.mjs (the local development configuration helpers). */
export declare const DEV_VARS: string;
export declare const DEV_VARS_EXAMPLE: string;
export declare function ensureDevVars(): void;
export declare function parseDotenv(text: string): Record<string, string>;
export declare function exampleDevVars(): Record<string, string>;
