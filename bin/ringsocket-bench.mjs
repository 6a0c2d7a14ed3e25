#!/usr/bin/env node
import { ensureNode, sourceOrDist } from './node-check.mjs';
if (ensureNode('ringsocket-bench')) {
  const { main } = await import(sourceOrDist('cli/bench'));
  await main(process.argv.slice(2));
}
