#!/usr/bin/env node
import { ensureNode } from './node-check.mjs';
ensureNode('ringsocket');
const { main } = await import('../src/cli/main.ts');
await main(process.argv.slice(2));
