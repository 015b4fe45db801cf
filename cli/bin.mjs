#!/usr/bin/env node
// The `messenger` command: runs the TypeScript CLI (cli/main.ts) through tsx, on Node 20 and 22.
import { tsImport } from 'tsx/esm/api';

const { run } = await tsImport('./main.ts', import.meta.url);
await run();
