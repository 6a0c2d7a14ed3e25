#!/usr/bin/env node
import { ensureNode } from './node-check.mjs';
ensureNode('ringsocket-bench');
const { main } = await import('../src/cli/bench.ts');
await main(process.argv.slice(2));
