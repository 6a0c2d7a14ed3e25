// The Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): per family a "# HELP" and a
// "# TYPE" line, then its samples, `name{label="value",...} value`, one per line, each line ending
// in "\n". In HELP text a backslash and a line feed are escaped (\\, \n); in label values also the
// double quote (\"). Values are Go-style floats: NaN, +Inf, -Inf, or a decimal/exponent number.
//
// prom-client is not used: its registry holds the values in the process's own memory, while ours
// are summed at scrape time from the threads' blocks in the shared memory (collect.ts); using it
// would mean re-setting every series of a registry on each scrape only to have it print these
// lines, for a dependency (and its own dependencies) that earns nothing else here.

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type MetricType = 'counter' | 'gauge';

export interface Sample {
  labels?: Readonly<Record<string, string>>;
  value: number;
}

export interface Family {
  /** [a-zA-Z_:][a-zA-Z0-9_:]*; a counter's name ends in _total. */
  name: string;
  help: string;
  type: MetricType;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** The exposition of `families` (throws on a name or label name the format does not allow). */
export function render(families: readonly Family[]): string {
  let out = '';
  for (const f of families) {
    if (!NAME.test(f.name)) throw new Error(`invalid metric name ${JSON.stringify(f.name)}`);
    out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
    for (const s of f.samples) {
      let labels = '';
      if (s.labels) {
        const parts: string[] = [];
        for (const [k, v] of Object.entries(s.labels)) {
          if (!LABEL.test(k) || k.startsWith('__')) throw new Error(`invalid label name ${JSON.stringify(k)} of ${f.name}`);
          parts.push(`${k}="${escapeLabelValue(v)}"`);
        }
        if (parts.length) labels = `{${parts.join(',')}}`;
      }
      out += `${f.name}${labels} ${formatValue(s.value)}\n`;
    }
  }
  return out;
}
