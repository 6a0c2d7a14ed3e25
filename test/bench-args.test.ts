// ringsocket-bench's command line (src/bench/args.ts) and its --help / usage exit statuses.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { connectionsPerTarget, connectionTarget, HELP, parseBenchArgs } from '../src/bench/args.ts';
import type { BenchOptions } from '../src/bench/args.ts';

const A = suite('parseBenchArgs');

function run(argv: string[]): BenchOptions {
  const r = parseBenchArgs(argv);
  if (r.kind !== 'run') throw new Error(`expected options, got ${JSON.stringify(r)}`);
  return r.options;
}

function error(argv: string[]): string {
  const r = parseBenchArgs(argv);
  if (r.kind !== 'error') throw new Error(`expected an error, got ${JSON.stringify(r)}`);
  return r.message;
}

A('parses the full echo command line of the issue', () => {
  const o = run(['echo', 'ws://127.0.0.1:8080/echo?x=1', '-c', '1000', '-p', '4', '-s', '32', '-d', '2.5', '--binary', '--threads', '2', '--pid', '4242', '--json']);
  assert.equal(o, {
    mode: 'echo',
    targets: [{ url: 'ws://127.0.0.1:8080/echo?x=1', host: '127.0.0.1', port: 8080, path: '/echo?x=1', hostHeader: '127.0.0.1:8080' }],
    connections: 1000, inFlight: 4, size: 32, duration: 2.5, binary: true, rate: null, senders: 1,
    threads: 2, pids: [4242], json: true, deflate: false,
  });
});

A('applies the defaults of each mode', () => {
  const e = run(['echo', 'ws://localhost/']);
  assert.is(e.connections, 100);
  assert.is(e.inFlight, 1);
  assert.is(e.size, 32);
  assert.is(e.duration, 10);
  assert.is(e.binary, false);
  assert.is(e.threads, 1);
  assert.equal(e.pids, []);
  assert.is(e.targets.length, 1);
  assert.is(e.targets[0].port, 80);
  assert.is(e.targets[0].path, '/');
  const c = run(['connect', 'ws://localhost:9/']);
  assert.is(c.connections, 1000);
  assert.is(c.inFlight, 16);
});

A('accepts long options with = and broadcast options', () => {
  const o = run(['broadcast', 'ws://[::1]:9000/b', '--connections=300', '--senders=10', '--rate=5000', '--in-flight=2']);
  assert.is(o.targets[0].host, '::1');
  assert.is(o.targets[0].hostHeader, '[::1]:9000');
  assert.is(o.connections, 300);
  assert.is(o.senders, 10);
  assert.is(o.rate, 5000);
  assert.is(o.inFlight, 2);
});

A('never uses more threads than connections', () => {
  assert.is(run(['echo', 'ws://h/', '-c', '3', '--threads', '8']).threads, 3);
});

A('returns the help text for --help and -h', () => {
  for (const flag of ['--help', '-h']) {
    const r = parseBenchArgs(['echo', flag]);
    assert.equal(r, { kind: 'help', text: HELP });
  }
  for (const opt of ['--connections', '--in-flight', '--size', '--duration', '--binary', '--rate', '--senders', '--threads', '--pid', '--json']) {
    assert.ok(HELP.includes(opt), `--help describes ${opt}`);
  }
});

A('rejects bad command lines with a precise message', () => {
  assert.is(error([]), 'missing mode: echo, broadcast or connect');
  assert.is(error(['flood', 'ws://h/']), 'unknown mode "flood": use echo, broadcast or connect');
  assert.is(error(['echo']), 'missing ws:// URL');
  assert.is(error(['echo', 'ws://h/', 'extra']), 'invalid URL: extra');
  assert.is(error(['echo', 'wss://h/']), 'wss:// is not supported (no TLS): wss://h/');
  assert.is(error(['echo', 'http://h/']), 'the URL must start with ws://: http://h/');
  assert.is(error(['echo', 'not a url']), 'invalid URL: not a url');
  assert.is(error(['echo', 'ws://h/', '-c', '0']), '--connections must be between 1 and 1000000, got 0');
  assert.is(error(['echo', 'ws://h/', '-c', '1e3']), '--connections must be a whole number, got "1e3"');
  assert.is(error(['echo', 'ws://h/', '-d', '0']), '--duration must be a number of seconds above 0 (at most 86400), got "0"');
  assert.is(error(['echo', 'ws://h/', '-s', '15']), '--size must be at least 16 for echo text (room for the verification header), got 15');
  assert.is(error(['echo', 'ws://h/', '-s', '7', '--binary']), '--size must be at least 8 for echo binary (room for the verification header), got 7');
  assert.is(error(['broadcast', 'ws://h/', '-s', '23']), '--size must be at least 24 for broadcast text (room for the verification header), got 23');
  assert.is(error(['echo', 'ws://h/', '--rate', '10']), '--rate applies to broadcast only');
  assert.is(error(['echo', 'ws://h/', '--senders', '2']), '--senders applies to broadcast only');
  assert.is(error(['broadcast', 'ws://h/', '-c', '5', '--senders', '6']), '--senders (6) cannot exceed --connections (5)');
  assert.match(error(['echo', 'ws://h/', '--bogus']), /Unknown option '--bogus'/);
});

A('takes several URLs and several server pids', () => {
  const o = run(['broadcast', 'ws://127.0.0.1:8081/broadcast', 'ws://127.0.0.1:8082/broadcast', '-c', '1000', '--senders', '10',
    '--pid', '11,12', '--pid', '13']);
  assert.equal(o.targets.map((t) => [t.url, t.port, t.path]), [
    ['ws://127.0.0.1:8081/broadcast', 8081, '/broadcast'],
    ['ws://127.0.0.1:8082/broadcast', 8082, '/broadcast'],
  ]);
  assert.equal(o.pids, [11, 12, 13]);
  assert.equal(run(['echo', 'ws://a/', 'ws://b/', 'ws://c/', '-c', '3']).targets.map((t) => t.host), ['a', 'b', 'c']);
});

A('rejects what several URLs cannot do', () => {
  assert.is(error(['echo', 'ws://h/', 'ws://h/']), 'the URL ws://h/ is given twice');
  assert.is(error(['echo', 'ws://a/', 'wss://b/']), 'wss:// is not supported (no TLS): wss://b/');
  assert.is(error(['echo', 'ws://a/', 'ws://b/', 'ws://c/', '-c', '2']), '3 URLs need --connections of at least 3, got 2');
  assert.is(error(['broadcast', 'ws://a/', 'ws://b/', '-c', '5', '--senders', '5']),
    '2 URLs with 5 sender(s) on the first need --connections of at least 6, got 5');
  assert.is(error(['echo', 'ws://h/', '--pid', '1,x']), '--pid must be a whole number, got "x"');
  assert.is(error(['echo', 'ws://h/', '--pid', '7', '--pid', '7']), '--pid 7 is given twice');
});

const P = suite('connection placement over several URLs');

const place = (argv: string[]) => {
  const o = run(argv);
  return Array.from({ length: o.connections }, (_, i) => connectionTarget(i, o));
};

P('one URL: every connection uses it', () => {
  assert.ok(place(['broadcast', 'ws://a/', '-c', '7', '--senders', '3']).every((k) => k === 0));
});

P('echo and connect: round-robin', () => {
  assert.equal(place(['echo', 'ws://a/', 'ws://b/', 'ws://c/', '-c', '7']), [0, 1, 2, 0, 1, 2, 0]);
  assert.equal(place(['connect', 'ws://a/', 'ws://b/', '-c', '4']), [0, 1, 0, 1]);
});

P('broadcast: the senders on the first URL, the other clients evened out', () => {
  // 3 senders on a; b is filled up to 3, then a, b in turn.
  assert.equal(place(['broadcast', 'ws://a/', 'ws://b/', '-c', '10', '--senders', '3']), [0, 0, 0, 1, 1, 1, 0, 1, 0, 1]);
  // Three URLs, 2 senders: b and c get 2 each first.
  assert.equal(place(['broadcast', 'ws://a/', 'ws://b/', 'ws://c/', '-c', '9', '--senders', '2']), [0, 0, 1, 2, 1, 2, 0, 1, 2]);
  // The shape: 1000 clients, 10 senders, two nodes: 500 each, every sender on the first.
  const o = run(['broadcast', 'ws://a/', 'ws://b/', '-c', '1000', '--senders', '10']);
  assert.equal(connectionsPerTarget(o), [{ connections: 500, senders: 10 }, { connections: 500, senders: 0 }]);
  const odd = run(['broadcast', 'ws://a/', 'ws://b/', 'ws://c/', '-c', '1001', '--senders', '7']);
  const per = connectionsPerTarget(odd).map((x) => x.connections);
  assert.is(per.reduce((a, b) => a + b, 0), 1001);
  assert.ok(Math.max(...per) - Math.min(...per) <= 1, per.join(','));
  // More senders than an even share: the first URL holds them all, the others share the rest.
  assert.equal(connectionsPerTarget(run(['broadcast', 'ws://a/', 'ws://b/', 'ws://c/', '-c', '10', '--senders', '6'])),
    [{ connections: 6, senders: 6 }, { connections: 2, senders: 0 }, { connections: 2, senders: 0 }]);
});

P('echo: connections per URL', () => {
  assert.equal(connectionsPerTarget(run(['echo', 'ws://a/', 'ws://b/', '-c', '5'])), [{ connections: 3, senders: 0 }, { connections: 2, senders: 0 }]);
});

A.run();
P.run();

const Cli = suite('ringsocket-bench command');
const bin = new URL('../bin/ringsocket-bench.mjs', import.meta.url).pathname;

Cli('prints the help and exits 0', () => {
  const r = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8', timeout: 20000 });
  assert.is(r.status, 0);
  assert.is(r.stdout, HELP);
});

Cli('exits 2 with the message and a hint on a usage error', () => {
  const r = spawnSync(process.execPath, [bin, 'echo', 'ws://127.0.0.1:1/', '-c', 'x'], { encoding: 'utf8', timeout: 20000 });
  assert.is(r.status, 2);
  assert.is(r.stderr, 'ringsocket-bench: --connections must be a whole number, got "x"\nTry ringsocket-bench --help\n');
});

Cli.run();
