// chat's protocol: imported by the app (apps/chat/app.ts) and by a page or any other client
// (through ringsocket/client), so that both sides use the one definition. The wire format is
// documented in app.ts's header.
//
//   const chat = await connect('wss://example.com/chat');
//   chat.send(say, 'hello');                       // a text message: byte 0, then the UTF-8 text
//   chat.send(whisper, 9n, 'psst');                // binary: byte 2, the id, the text
//   for await (const m of chat) {
//     const event = JSON.parse(m as string) as ChatEvent;
//     ...
//   }
import { defineMessage, ntoh, str } from '../../src/client/index.ts';

/** Say something to everyone else. The app reads it as text or binary (caseAny); pages send text. */
export const say = defineMessage({ case: 0, kind: 'text', schema: [str(1, 1000)] });

/** Take a new name: 1 to 32 bytes of UTF-8 without control characters (else close CLOSE_BAD_NAME). */
export const rename = defineMessage({ case: 1, kind: 'text', schema: [str(1, 32)] });

/** Say something to one client only, by id (a welcome / join / list event tells ids). */
export const whisper = defineMessage({ case: 2, kind: 'binary', schema: [ntoh.u64, str(1, 1000)] });

/** Ask who is in the room (answered with a "list" event). */
export const list = defineMessage({ case: 3, kind: 'binary', schema: [] });

/** The close code for a name the room does not accept. */
export const CLOSE_BAD_NAME = 4001;

/** A client in the room. */
export interface Member {
  readonly id: number;
  readonly name: string;
}

/** App -> client: every message the app sends is one of these, as JSON text. */
export type ChatEvent =
  | { readonly type: 'welcome'; readonly id: number; readonly name: string }
  | { readonly type: 'join'; readonly id: number; readonly name: string }
  | { readonly type: 'leave'; readonly id: number; readonly name: string }
  | { readonly type: 'say'; readonly id: number; readonly name: string; readonly text: string }
  | { readonly type: 'rename'; readonly id: number; readonly old: string; readonly name: string }
  | { readonly type: 'whisper'; readonly id: number; readonly name: string; readonly text: string }
  | { readonly type: 'whispered'; readonly to: number }
  | { readonly type: 'error'; readonly message: string }
  | { readonly type: 'list'; readonly clients: readonly Member[] };
