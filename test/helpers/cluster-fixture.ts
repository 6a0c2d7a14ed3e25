// Clients of the cluster fixture app (test/fixtures/apps/cluster/app.ts), shared by the cluster
// tests: the app's spec, and a client that knows its id (the app's open callback tells it).
import type WebSocket from 'ws';
import type { AppSpec, RunningDaemon } from './daemon.ts';
import { connectInbox, type Inbox } from './client.ts';

export const CLUSTER_APP: AppSpec = { name: 'cl', app_path: 'test/fixtures/apps/cluster/app.ts', paths: ['/cl'] };

export interface FixtureClient { ws: WebSocket; inbox: Inbox; id: number }

/** A message the fixture app sends ({"type":"msg",...}). */
export interface FixtureMessage { type: string; op: string; seq: number; text: string; from: number }

/** Connects to the fixture app on `d` and waits for its id; the socket is added to `sockets` (for cleanup). */
export async function fixtureClient(d: RunningDaemon, sockets: WebSocket[]): Promise<FixtureClient> {
  const { ws, inbox } = await connectInbox(d.url());
  sockets.push(ws);
  const hello = JSON.parse((await inbox.next()).data.toString());
  if (hello.type !== 'id' || typeof hello.id !== 'number') throw new Error(`the fixture app's first message is not the id: ${JSON.stringify(hello)}`);
  return { ws, inbox, id: hello.id };
}

/** The next message the client receives, parsed. */
export async function nextMessage(c: FixtureClient, ms = 5000): Promise<FixtureMessage> {
  return JSON.parse((await c.inbox.next(ms)).data.toString());
}
