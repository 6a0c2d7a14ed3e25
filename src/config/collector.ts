// Error collection for the configuration checks: every problem becomes a ConfigError with its
// JSONPath and, when the JSON node is known, its line and column; checking goes on after an
// error so that one run reports everything.
import type { Node } from 'jsonc-parser';
import type { ConfigError } from './types.ts';

export class Collector {
  readonly errors: ConfigError[] = [];
  readonly warnings: ConfigError[] = [];
  readonly file: string;
  private readonly lineStarts: number[] = [0];

  constructor(text: string, file: string) {
    this.file = file;
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }

  /** 1-based line and column of a character offset. */
  position(offset: number): { line: number; column: number } {
    let lo = 0, hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= offset) lo = mid; else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.lineStarts[lo] + 1 };
  }

  private make(path: string, message: string, node?: Node | number): ConfigError {
    const e: ConfigError = { path, message, file: this.file };
    const offset = typeof node === 'number' ? node : node?.offset;
    if (offset !== undefined) Object.assign(e, this.position(offset));
    return e;
  }

  error(path: string, message: string, node?: Node | number): void {
    this.errors.push(this.make(path, message, node));
  }

  warn(path: string, message: string, node?: Node | number): void {
    this.warnings.push(this.make(path, message, node));
  }
}

/** The JSONPath of a child: `$.key`, `$["odd key"]` or `$[3]`. */
export function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** How a value looks in a message: strings quoted (shortened), containers by kind. */
export function describe(node: Node | undefined): string {
  if (!node) return 'nothing';
  switch (node.type) {
    case 'string': {
      const s = JSON.stringify(node.value);
      return s.length > 70 ? `${s.slice(0, 66)}..."` : s;
    }
    case 'number': return String(node.value);
    case 'boolean': return String(node.value);
    case 'null': return 'null';
    case 'object': return 'an object';
    case 'array': return `an array of ${node.children?.length ?? 0}`;
    default: return 'an invalid value';
  }
}
