export { freePort } from '../../src/bench/ports.ts';
