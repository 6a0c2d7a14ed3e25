// A small, strict parser of the Prometheus text exposition format 0.0.4, for tests: every sample
// belongs to a family declared by "# TYPE" before it (with its "# HELP"), names and label names are
// valid, label values are read with their escapes (\\, \", \n and nothing else), no series repeats,
// every line ends in "\n", values are Go floats. Throws on anything else.

export interface Parsed {
  /** family name -> its type and help */
  families: Map<string, { type: string; help: string }>;
  /** every sample, in order */
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(s: string, line: string): number {
  if (s === 'NaN') return NaN;
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`bad value ${JSON.stringify(s)} in ${JSON.stringify(line)}`);
  return Number(s);
}

function parseLabels(s: string, line: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < s.length) {
    const eq = s.indexOf('=', i);
    if (eq < 0) throw new Error(`label without "=" in ${JSON.stringify(line)}`);
    const name = s.slice(i, eq);
    if (!LABEL.test(name)) throw new Error(`bad label name ${JSON.stringify(name)} in ${JSON.stringify(line)}`);
    if (name in out) throw new Error(`label ${name} twice in ${JSON.stringify(line)}`);
    if (s[eq + 1] !== '"') throw new Error(`label value not quoted in ${JSON.stringify(line)}`);
    let v = '';
    let j = eq + 2;
    for (;; j++) {
      if (j >= s.length) throw new Error(`unterminated label value in ${JSON.stringify(line)}`);
      const ch = s[j];
      if (ch === '"') break;
      if (ch === '\n') throw new Error(`raw line feed in a label value in ${JSON.stringify(line)}`);
      if (ch === '\\') {
        const e = s[++j];
        if (e === '\\') v += '\\';
        else if (e === '"') v += '"';
        else if (e === 'n') v += '\n';
        else throw new Error(`bad escape \\${e} in ${JSON.stringify(line)}`);
      } else v += ch;
    }
    out[name] = v;
    i = j + 1;
    if (i < s.length) {
      if (s[i] !== ',') throw new Error(`expected "," between labels in ${JSON.stringify(line)}`);
      i++;
    }
  }
  return out;
}

export function parseExposition(text: string): Parsed {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the exposition does not end with a line feed');
  const families = new Map<string, { type: string; help: string }>();
  const help = new Map<string, string>();
  const samples: Parsed['samples'] = [];
  const series = new Set<string>();
  const lines = text.split('\n');
  lines.pop();
  let current: string | null = null;
  for (const line of lines) {
    if (line.startsWith('# HELP ')) {
      const rest = line.slice(7);
      const sp = rest.indexOf(' ');
      const name = sp < 0 ? rest : rest.slice(0, sp);
      if (!NAME.test(name)) throw new Error(`bad HELP name in ${JSON.stringify(line)}`);
      if (help.has(name)) throw new Error(`second HELP for ${name}`);
      const h = sp < 0 ? '' : rest.slice(sp + 1);
      if (/\\[^\\n]/.test(h.replace(/\\\\/g, ''))) throw new Error(`bad escape in HELP of ${name}`);
      help.set(name, h);
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [name, type, extra] = line.slice(7).split(' ');
      if (!NAME.test(name) || !TYPES.has(type) || extra !== undefined) throw new Error(`bad TYPE line ${JSON.stringify(line)}`);
      if (families.has(name)) throw new Error(`second TYPE for ${name}`);
      if (samples.some((s) => s.name === name)) throw new Error(`TYPE of ${name} after its samples`);
      families.set(name, { type, help: help.get(name) ?? '' });
      current = name;
      continue;
    }
    if (line.startsWith('#') || line === '') throw new Error(`unexpected line ${JSON.stringify(line)}`);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`bad sample line ${JSON.stringify(line)}`);
    const [, name, rawLabels, rawValue] = m;
    if (!families.has(name)) throw new Error(`sample ${name} without a # TYPE family`);
    if (name !== current) throw new Error(`sample ${name} not grouped under its family (current ${current})`);
    if (!help.has(name)) throw new Error(`family ${name} without # HELP`);
    const labels = rawLabels === undefined ? {} : parseLabels(rawLabels, line);
    const key = name + JSON.stringify(Object.entries(labels).sort());
    if (series.has(key)) throw new Error(`series repeated: ${line}`);
    series.add(key);
    samples.push({ name, labels, value: parseValue(rawValue, line) });
  }
  return { families, samples };
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when none. */
export function sampleValue(p: Parsed, name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = p.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length > 1) throw new Error(`${hits.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return hits[0]?.value;
}
