// permessage-deflate negotiation (src/http/deflate-offer.ts): the header grammar, offers accepted
// and declined (RFC 7692 §7.1), the response parameters, and the offers real clients send.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { negotiateDeflate, parseExtensions, type DeflateAgreement } from '../src/http/deflate-offer.ts';
import { DEFLATE_DEFAULTS, type DeflateConfig } from '../src/config/deflate.ts';

const yes = { contextAvailable: true };
const full = (over: Partial<DeflateConfig> = {}): DeflateConfig => ({ ...DEFLATE_DEFAULTS, ...over });
/** Context takeover both ways allowed by the config. */
const takeover = full({ server_no_context_takeover: false });
const header = (values: string | string[], config = takeover, opts = yes): string | null =>
  negotiateDeflate(typeof values === 'string' ? [values] : values, config, opts)?.header ?? null;

const P = suite('extension header grammar');

P('parses tokens, parameters, quoted values and several header lines', () => {
  assert.equal(parseExtensions(['permessage-deflate; client_max_window_bits, foo;a=1;b="x"', 'bar']), [
    { name: 'permessage-deflate', params: [['client_max_window_bits', null]] },
    { name: 'foo', params: [['a', '1'], ['b', 'x']] },
    { name: 'bar', params: [] },
  ]);
  assert.equal(parseExtensions(['  Permessage-Deflate ;Client_Max_Window_Bits = "1\\0"  ,, ']), [
    { name: 'permessage-deflate', params: [['client_max_window_bits', '10']] },
  ]);
  assert.equal(parseExtensions(['', ' , ']), []);
});

P('refuses what breaks RFC 6455 §9.1', () => {
  for (const bad of [
    'permessage-deflate;', 'permessage-deflate; =1', 'permessage-deflate; a=', 'permessage-deflate; a="1',
    'permessage-deflate; a="x y"', 'permessage-deflate; a="" ', 'permessage-deflate x', ';a', 'per message', 'a;b=1=2',
    'permessage-deflate; a=1 2', 'permessage-deflate; a="\\', 'dé', 'a, ;b',
  ]) assert.is(parseExtensions([bad]), null, bad);
});

const N = suite('permessage-deflate offers');

N('the offers of Chrome, Firefox, Safari and ws', () => {
  // Chrome (and ws with perMessageDeflate: true): client_max_window_bits without a value.
  assert.is(header('permessage-deflate; client_max_window_bits'), 'permessage-deflate');
  // Firefox and Safari: the bare token.
  assert.is(header('permessage-deflate'), 'permessage-deflate');
  // ws with serverNoContextTakeover / clientNoContextTakeover / window bits.
  assert.is(header('permessage-deflate; server_no_context_takeover; client_max_window_bits'), 'permessage-deflate; server_no_context_takeover');
  assert.is(header('permessage-deflate; client_no_context_takeover; client_max_window_bits'), 'permessage-deflate; client_no_context_takeover');
  assert.is(header('permessage-deflate; server_max_window_bits=10; client_max_window_bits=11'),
    'permessage-deflate; server_max_window_bits=10; client_max_window_bits=11');
  assert.is(header('permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=8'),
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=8');
});

N('the agreed settings', () => {
  const a = negotiateDeflate(['permessage-deflate; server_max_window_bits=12; client_max_window_bits=10'], takeover, yes)!;
  assert.equal(a, {
    serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 12, clientMaxWindowBits: 10,
    header: 'permessage-deflate; server_max_window_bits=12; client_max_window_bits=10',
  } satisfies DeflateAgreement);
  const d = negotiateDeflate(['permessage-deflate'], DEFLATE_DEFAULTS, yes)!;
  assert.equal([d.serverNoContextTakeover, d.clientNoContextTakeover, d.serverMaxWindowBits, d.clientMaxWindowBits], [true, false, 15, 15]);
});

N('the config adds no-context-takeover and window parameters', () => {
  // The defaults: server_no_context_takeover (§7.1.1.1: a server MAY include it).
  assert.is(header('permessage-deflate', DEFLATE_DEFAULTS), 'permessage-deflate; server_no_context_takeover');
  assert.is(header('permessage-deflate', full({ client_no_context_takeover: true })),
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover');
  // Our window, when smaller than 15, is announced even unasked.
  assert.is(header('permessage-deflate', full({ server_no_context_takeover: false, server_max_window_bits: 11 })), 'permessage-deflate; server_max_window_bits=11');
  // The client's window is limited only when the offer has client_max_window_bits (§7.1.2.2).
  const small = full({ server_no_context_takeover: false, client_max_window_bits: 9 });
  assert.is(header('permessage-deflate', small), 'permessage-deflate');
  assert.is(header('permessage-deflate; client_max_window_bits', small), 'permessage-deflate; client_max_window_bits=9');
  assert.is(header('permessage-deflate; client_max_window_bits=12', small), 'permessage-deflate; client_max_window_bits=9');
  assert.is(header('permessage-deflate; client_max_window_bits=8', small), 'permessage-deflate; client_max_window_bits=8');
  // An offered server window is answered with the smaller of it and ours.
  assert.is(header('permessage-deflate; server_max_window_bits=14', full({ server_no_context_takeover: false, server_max_window_bits: 10 })),
    'permessage-deflate; server_max_window_bits=10');
  assert.is(header('permessage-deflate; server_max_window_bits=15'), 'permessage-deflate; server_max_window_bits=15');
  assert.is(header('permessage-deflate; server_max_window_bits=8'), 'permessage-deflate; server_max_window_bits=8');
});

N('without a context to spare (max_contexts reached) both directions get no context takeover', () => {
  assert.is(header('permessage-deflate; client_max_window_bits', takeover, { contextAvailable: false }),
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover');
  const a = negotiateDeflate(['permessage-deflate'], takeover, { contextAvailable: false })!;
  assert.ok(a.serverNoContextTakeover && a.clientNoContextTakeover);
});

N('declines invalid offers and takes the next acceptable one', () => {
  const declined = [
    'permessage-deflate; foo', // unknown parameter
    'permessage-deflate; client_max_window_bits; client_max_window_bits', // duplicate
    'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
    'permessage-deflate; server_no_context_takeover=1', // a value where none is allowed
    'permessage-deflate; client_no_context_takeover="x"',
    'permessage-deflate; server_max_window_bits', // a value is required
    'permessage-deflate; server_max_window_bits=7', 'permessage-deflate; server_max_window_bits=16',
    'permessage-deflate; server_max_window_bits=010', 'permessage-deflate; client_max_window_bits=0',
    'permessage-deflate; client_max_window_bits=1a', 'permessage-deflate; client_max_window_bits=-9',
    'permessage-deflate; client_max_window_bits=16',
    'x-webkit-deflate-frame', 'deflate-frame', 'permessage-foo',
  ];
  for (const offer of declined) {
    assert.is(header(offer), null, offer);
    assert.is(header([`${offer}, permessage-deflate; client_max_window_bits=9`]), 'permessage-deflate; client_max_window_bits=9', `after ${offer}`);
    assert.is(header([offer, 'permessage-deflate']), 'permessage-deflate', `${offer} on its own line`);
  }
  // Quoted values count as their unescaped token (RFC 6455 §9.1).
  assert.is(header('permessage-deflate; server_max_window_bits="10"'), 'permessage-deflate; server_max_window_bits=10');
});

N('the first acceptable offer wins (RFC 7692 §5.1: the order is the client\'s preference)', () => {
  assert.is(header('permessage-deflate; server_max_window_bits=10, permessage-deflate'), 'permessage-deflate; server_max_window_bits=10');
  assert.is(header(['permessage-deflate; client_no_context_takeover', 'permessage-deflate; server_max_window_bits=12']), 'permessage-deflate; client_no_context_takeover');
  assert.is(header('foo, permessage-deflate; server_no_context_takeover'), 'permessage-deflate; server_no_context_takeover');
});

N('a malformed header means no extension, not a failed handshake', () => {
  assert.is(negotiateDeflate(['permessage-deflate; a="'], takeover, yes), null);
  assert.is(negotiateDeflate(['permessage-deflate, ;'], takeover, yes), null);
  assert.is(negotiateDeflate([], takeover, yes), null);
  assert.is(negotiateDeflate(['  '], takeover, yes), null);
});

P.run();
N.run();
