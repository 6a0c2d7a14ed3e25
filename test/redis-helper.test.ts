// test/helpers/redis.ts: a throwaway redis-server that the cluster tests start, kill (a crash),
// restart on the same port and stop. Needs /usr/bin/redis-server (.ci/run installs it); without it
// this file fails, it never skips.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createClient } from '@redis/client';
import { startRedis, type RedisServer } from './helpers/redis.ts';

/** SET then GET through a new client; the client is closed after. */
async function roundTrip(url: string, key: string, value: string): Promise<string | null> {
  const client = createClient({ url, socket: { connectTimeout: 5000, reconnectStrategy: false } });
  client.on('error', () => { /* reported by the command that fails */ });
  await client.connect();
  try {
    await client.set(key, value);
    return await client.get(key);
  } finally {
    client.destroy();
  }
}

/** Whether `f` rejects. */
async function fails(f: () => Promise<unknown>): Promise<boolean> {
  try {
    await f();
    return false;
  } catch {
    return true;
  }
}

const R = suite('redis test helper');

R('start, round trip, kill, restart on the same port, round trip, stop', async () => {
  let redis: RedisServer | undefined;
  try {
    redis = await startRedis();
    assert.ok(redis.port >= 1 && redis.port <= 65535);
    assert.is(redis.url, `redis://127.0.0.1:${redis.port}`);
    assert.is(await roundTrip(redis.url, 'k', 'v1'), 'v1');

    await redis.kill();
    assert.ok(await fails(() => roundTrip(redis!.url, 'k', 'x')), 'killed: nothing listens');
    await redis.kill(); // a second kill is a no-op

    await redis.restart();
    const client = createClient({ url: redis.url, socket: { reconnectStrategy: false } });
    client.on('error', () => {});
    await client.connect();
    assert.is(await client.get('k'), null, 'nothing persisted across the restart');
    client.destroy();
    assert.is(await roundTrip(redis.url, 'k', 'v2'), 'v2');

    await redis.stop();
    assert.ok(await fails(() => roundTrip(redis!.url, 'k', 'x')), 'stopped');
    await redis.stop(); // a second stop is a no-op
  } finally {
    await redis?.kill();
  }
});

R('a given port is used, and a port that is taken fails with the server output', async () => {
  const a = await startRedis();
  try {
    const err = await startRedis({ port: a.port }).then(() => null, (e: Error) => e);
    assert.ok(err, 'the second start on the same port fails');
    assert.match(err!.message, new RegExp(`redis-server on 127\\.0\\.0\\.1:${a.port} did not become ready`));
    assert.match(err!.message, /Address already in use|bind/i, err!.message);
    assert.is(await roundTrip(a.url, 'k', 'still'), 'still', 'the first one is unaffected');
  } finally {
    await a.stop();
  }
});

R.run();
