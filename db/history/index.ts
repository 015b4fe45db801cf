/** The history shards (warm and cold tiers, archived search): see notes in each module. */
export * from './shards.ts';
export * from './types.ts';
export * from './warm.ts';
export * from './cold.ts';
export * from './search.ts';
export * from './gauges.ts';
export * from './erase.ts';
