#!/usr/bin/env node
import { ensureNode, sourceOrDist } from './node-check.mjs';
if (ensureNode('ringsocket')) {
  const { main } = await import(sourceOrDist('cli/main'));
  await main(process.argv.slice(2));
}
