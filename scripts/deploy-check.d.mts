/** Types of deploy-check.mjs (the pre-deploy configuration checks). */
export declare function requiredSecrets(config: { secrets?: { required?: string[] }; vars?: Record<string, unknown> }): string[];
export declare function deployProblems(tomlText: string, secrets: Array<{ name: string }>, localVars: Record<string, string>): string[];
