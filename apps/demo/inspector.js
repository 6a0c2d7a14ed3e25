// The frame inspector: each message as the frame ringsocket/codec makes for it, shown byte by byte
// (header, mask key, payload) with its header read out and its payload decoded back by the codec.
import { readFrameHeader } from 'ringsocket/codec';

const OPCODE_NAMES = { 0: 'continuation', 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' };
/** Bytes shown before "… N more bytes". */
const SHOWN = 96;
/** Entries kept. */
const KEPT = 200;

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');

function el(tag, props = {}, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  for (const c of children) e.append(c);
  return e;
}

export class Inspector {
  /**
   * @param {HTMLOListElement} list where the entries go (newest first)
   * @param {import('ringsocket/codec').Codec} codec
   */
  constructor(list, codec) {
    this.list = list;
    this.codec = codec;
  }

  /**
   * A message this page sent: framed as a client frame (masked, fresh key) and decoded back as the
   * daemon reads client frames.
   * @param {string} channel e.g. "chat"
   * @param {string} what e.g. "say"
   * @param {string | Uint8Array} data the message as the WebSocket sends it
   */
  sent(channel, what, data) {
    const kind = typeof data === 'string' ? 'text' : 'binary';
    const frame = this.codec.frame(kind, data);
    this.#add('sent', channel, what, frame, this.codec.decode(frame, { from: 'client' }));
    return frame;
  }

  /**
   * A message this page received: framed as the daemon frames it (unmasked) and decoded back as a
   * client decodes server frames.
   * @param {string} channel
   * @param {string} what a description of the message, e.g. "sum = 6"
   * @param {string | Uint8Array} data
   */
  received(channel, what, data) {
    const kind = typeof data === 'string' ? 'text' : 'binary';
    const frame = this.codec.serverFrame(kind, data);
    this.#add('received', channel, what, frame, this.codec.decode(frame));
    return frame;
  }

  clear() {
    this.list.replaceChildren();
  }

  #add(dir, channel, what, frame, events) {
    const h = readFrameHeader(frame);
    const li = el('li', { className: `frame ${dir}` });
    li.dataset.dir = dir;
    li.dataset.channel = channel;
    li.dataset.hex = hex(frame).replaceAll(' ', '');
    li.dataset.events = JSON.stringify(events.map(describeEvent));

    li.append(el('div', { className: 'title' },
      el('span', { className: 'dir', textContent: dir === 'sent' ? '→ sent' : '← received' }),
      ` ${channel} · ${what} · ${frame.length}-byte frame`));

    const bytes = el('div', { className: 'bytes' });
    const keyEnd = h.headerSize;
    const keyStart = h.masked ? keyEnd - 4 : keyEnd;
    const shown = frame.subarray(0, SHOWN);
    bytes.append(
      el('span', { className: 'h', textContent: hex(shown.subarray(0, keyStart)) }), ' ',
      el('span', { className: 'k', textContent: hex(shown.subarray(keyStart, keyEnd)) }), ' ',
      el('span', { className: 'p', textContent: hex(shown.subarray(keyEnd)) }),
    );
    if (frame.length > SHOWN) bytes.append(el('span', { className: 'more', textContent: ` … ${frame.length - SHOWN} more bytes` }));
    li.append(bytes);

    const form = h.lengthForm === 7 ? '7-bit length' : `${h.lengthForm}-bit extended length`;
    li.append(el('div', { className: 'header' }, [
      h.fin ? 'FIN' : 'not FIN',
      `opcode ${h.opcode} (${OPCODE_NAMES[h.opcode] ?? 'unknown'})`,
      h.masked ? `masked, key ${hex(h.maskKey)}` : 'unmasked',
      `payload ${h.payloadLength} bytes (${form})`,
      `header ${h.headerSize} bytes`,
    ].join(' · ')));

    li.append(el('div', { className: 'decoded' }, `decoded by the codec: ${events.map(describeEvent).join('; ') || 'nothing'}`));
    this.list.prepend(li);
    while (this.list.children.length > KEPT) this.list.lastElementChild.remove();
  }
}

/** One decoder event as a line of text. */
export function describeEvent(e) {
  switch (e.type) {
    case 'text': return `text ${JSON.stringify(e.text)}`;
    case 'binary': return `binary ${e.data.length} bytes: ${hex(e.data.subarray(0, 32))}${e.data.length > 32 ? ' …' : ''}`;
    case 'ping': case 'pong': return `${e.type} ${hex(e.data)}`;
    case 'close': return `close ${e.code} ${JSON.stringify(e.reason)}`;
    case 'error': return `error ${e.error.code} (close ${e.error.closeCode}): ${e.error.message}`;
    default: return JSON.stringify(e);
  }
}
