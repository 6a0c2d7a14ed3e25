// The demo page: chat (apps/chat) and silly-calc (apps/silly-calc) through ringsocket/client, the
// apps' own message definitions (their protocol.ts, served as /protocol/*.js), and a frame
// inspector on ringsocket/codec. serve.ts serves it; README.md, "Demo".
import { connect, encodeMessage, decode, RingSocketSchemaError } from 'ringsocket/client';
import { createCodec } from 'ringsocket/codec';
import { say, rename, list } from '/protocol/chat.js';
import { calcRequest, calcSum } from '/protocol/silly-calc.js';
import { Inspector } from './inspector.js';

const $ = (id) => document.getElementById(id);
const status = $('status');

function setStatus(state, text) {
  status.dataset.state = state;
  status.textContent = text;
}

/** A message to show for a refused send: the schema's reason, or the error as it is. */
function refusal(err) {
  if (err instanceof RingSocketSchemaError) {
    return `refused in the page, nothing sent: ${err.code}${err.closeCode ? ` (the app would close with ${err.closeCode})` : ''}: ${err.message}`;
  }
  return String(err?.message ?? err);
}

function enable(ids) {
  for (const id of ids) $(id).disabled = false;
}

async function start() {
  const { ws } = await (await fetch('/config.json')).json();
  const codec = await createCodec();
  const inspector = new Inspector($('frames'), codec);
  $('inspector-clear').addEventListener('click', () => inspector.clear());
  const closedNote = (name) => (info) => setStatus('closed', `${name} closed: ${info.code}${info.name ? ` ${info.name}` : ''}${info.reason ? ` "${info.reason}"` : ''}`);

  // ---- chat
  const log = $('chat-log');
  const names = new Map();
  const line = (cls, text) => {
    log.append(Object.assign(document.createElement('li'), { className: cls, textContent: text }));
    log.scrollTop = log.scrollHeight;
  };
  const onChat = (data) => {
    let event;
    try {
      event = JSON.parse(data);
    } catch {
      event = { type: 'unknown' };
    }
    inspector.received('chat', event.type, data);
    switch (event.type) {
      case 'welcome': names.set(event.id, event.name); $('me').textContent = event.name; line('info', `you joined as ${event.name}`); break;
      case 'join': names.set(event.id, event.name); line('info', `${event.name} joined`); break;
      case 'leave': names.delete(event.id); line('info', `${event.name} left`); break;
      case 'say': line('say', `${event.name}: ${event.text}`); break;
      case 'rename':
        names.set(event.id, event.name);
        if ($('me').dataset.id === String(event.id)) $('me').textContent = event.name;
        line('info', `${event.old} is now ${event.name}`);
        break;
      case 'whisper': line('say', `${event.name} (whispering): ${event.text}`); break;
      case 'list': line('info', `here: ${event.clients.map((c) => `${c.name} (#${c.id})`).join(', ')}`); break;
      case 'error': line('error', event.message); break;
      default: line('error', `unexpected message ${String(data)}`);
    }
    if (event.type === 'welcome') $('me').dataset.id = String(event.id);
  };
  const chat = await connect(`${ws}/chat`, { onMessage: onChat });
  void chat.closed.then(closedNote('chat'));

  const sendChat = (form, what, ...values) => {
    $('chat-error').textContent = '';
    try {
      chat.send(form, ...values);
      inspector.sent('chat', what, encodeMessage(form, ...values));
      return true;
    } catch (err) {
      $('chat-error').textContent = refusal(err);
      return false;
    }
  };
  $('say-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = $('say-text').value;
    if (sendChat(say, 'say', text)) {
      line('mine', `${$('me').textContent}: ${text}`);
      $('say-text').value = '';
    }
  });
  $('rename-form').addEventListener('submit', (e) => {
    e.preventDefault();
    if (sendChat(rename, 'rename', $('rename-name').value)) $('rename-name').value = '';
  });
  $('list-send').addEventListener('click', () => sendChat(list, 'list'));
  enable(['say-text', 'say-send', 'rename-name', 'rename-send', 'list-send']);

  // ---- silly-calc: one connection asks, another one listens (the sum goes to every other client)
  const calc = await connect(`${ws}/silly-calc`, {
    onMessage: (data) => {
      inspector.received('silly-calc', 'reply', data);
      $('calc-reply').textContent = String(data);
    },
  });
  const watch = await connect(`${ws}/silly-calc`, {
    onMessage: (data) => {
      if (typeof data === 'string') return void inspector.received('silly-calc (listener)', 'text', data);
      let what;
      try {
        const [sum] = decode(calcSum, data);
        what = `sum = ${sum}`;
        $('calc-sum').textContent = String(sum);
      } catch (err) {
        what = refusal(err);
      }
      inspector.received('silly-calc (listener)', what, data);
    },
  });
  void calc.closed.then(closedNote('silly-calc'));
  void watch.closed.then(closedNote('silly-calc listener'));

  const number = (s) => (s.trim() === '' ? NaN : Number(s));
  $('calc-form').addEventListener('submit', (e) => {
    e.preventDefault();
    $('calc-error').textContent = '';
    const i32 = number($('calc-i32').value);
    const u16s = $('calc-u16s').value.trim() === '' ? [] : $('calc-u16s').value.split(',').map(number);
    try {
      calc.send(calcRequest, i32, u16s);
      inspector.sent('silly-calc', `request ${i32} + [${u16s.join(', ')}]`, encodeMessage(calcRequest, i32, u16s));
      $('calc-reply').textContent = '';
      $('calc-sum').textContent = '…';
    } catch (err) {
      $('calc-error').textContent = refusal(err);
    }
  });
  enable(['calc-i32', 'calc-u16s', 'calc-send']);
  setStatus('ready', `connected to ${ws} (chat, silly-calc ×2)`);
}

start().catch((err) => {
  setStatus('error', `could not start: ${err?.message ?? err}`);
  console.error(err);
});
