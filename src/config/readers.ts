// Typed readers over the parsed JSON tree: each reads one value, checks its type and range, and
// records an error (returning null) when it is wrong. They know nothing of which key means what.
import type { Node } from 'jsonc-parser';
import { statSync, accessSync, constants as fsConstants } from 'node:fs';
import { type Collector, childPath, describe } from './collector.ts';
import { formatBytes } from './memory.ts';
import type { NumberSpec } from './schema.ts';
import { closest } from './suggest.ts';

/** The properties of a JSON object by key (after duplicate and unknown keys are reported). */
export type Props = Map<string, Node>;

/** An object node's properties; an unknown or repeated key is an error (with a "did you mean"). */
export function readObject(c: Collector, node: Node | undefined, path: string, known: readonly string[], what: string): Props | null {
  if (!node || node.type !== 'object') {
    c.error(path, `must be ${what} (a JSON object), found ${describe(node)}`, node);
    return null;
  }
  const props: Props = new Map();
  for (const prop of node.children ?? []) {
    const [keyNode, valueNode] = prop.children ?? [];
    if (!keyNode) continue;
    const key = String(keyNode.value);
    const p = childPath(path, key);
    if (props.has(key)) {
      c.error(p, `duplicate key "${key}": each key may appear only once in an object`, keyNode);
      continue;
    }
    if (!known.includes(key)) {
      const guess = closest(key, known);
      c.error(p, `unknown key "${key}"` + (guess ? `; did you mean "${guess}"?` : `; allowed here: ${known.join(', ')}`), keyNode);
      continue;
    }
    if (valueNode) props.set(key, valueNode);
  }
  return props;
}

function fmtNumber(n: number, spec: { unit?: string }): string {
  if (spec.unit === 'bytes' && n >= 1024) return `${n} (${formatBytes(n)})`;
  return String(n);
}

function rangeText(spec: NumberSpec, minNote = ''): string {
  const what = spec.unit === 'seconds' ? 'a number of seconds' : spec.integer ? 'an integer' : 'a number';
  const range = `${what} from ${fmtNumber(spec.min, spec)}${minNote} to ${fmtNumber(spec.max, spec)}`;
  return spec.zeroMeansOff ? `0 (off) or ${range}` : range;
}

/** A present numeric value checked against `spec`; null when invalid (the error is recorded). */
export function readNumber(c: Collector, node: Node, path: string, spec: NumberSpec, minNote = ''): number | null {
  const v = node.value;
  const ok = node.type === 'number' && Number.isFinite(v) && (!spec.integer || Number.isInteger(v)) &&
    ((v >= spec.min && v <= spec.max) || (spec.zeroMeansOff === true && v === 0));
  if (ok) return v as number;
  c.error(path, `must be ${rangeText(spec, minNote)}, found ${describe(node)}`, node);
  return null;
}

/** undefined when absent, null when invalid. */
export function optNumber(c: Collector, props: Props, key: string, path: string, spec: NumberSpec, minNote = ''): number | null | undefined {
  const node = props.get(key);
  return node ? readNumber(c, node, childPath(path, key), spec, minNote) : undefined;
}

export function optBool(c: Collector, props: Props, key: string, path: string): boolean | null | undefined {
  const node = props.get(key);
  if (!node) return undefined;
  if (node.type === 'boolean') return node.value as boolean;
  c.error(childPath(path, key), `must be true or false, found ${describe(node)}`, node);
  return null;
}

export function optString(c: Collector, props: Props, key: string, path: string, what = 'a string'): string | null | undefined {
  const node = props.get(key);
  if (!node) return undefined;
  if (node.type === 'string') return node.value as string;
  c.error(childPath(path, key), `must be ${what}, found ${describe(node)}`, node);
  return null;
}

export function readArray(c: Collector, node: Node, path: string, what: string, min: number, max: number): Node[] | null {
  if (node.type !== 'array') {
    c.error(path, `must be ${what}, found ${describe(node)}`, node);
    return null;
  }
  const items = node.children ?? [];
  if (items.length < min || items.length > max) {
    const plural = (n: number) => `${n} element${n === 1 ? '' : 's'}`;
    const count = max >= 65535 ? `at least ${plural(min)}` : min === max ? `exactly ${plural(min)}` : `${min} to ${plural(max)}`;
    c.error(path, `must be ${what} with ${count}, found ${items.length}`, node);
    return null;
  }
  return items;
}

/** Whether a fileProblem says only that this process may not read the file (or its folder). */
export function isAccessProblem(problem: string): boolean {
  return problem === NOT_READABLE || problem === `cannot be read (EACCES)`;
}

const NOT_READABLE = 'is not readable';

export function fileProblem(p: string): string | null {
  let st;
  try {
    st = statSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`;
  }
  if (!st.isFile()) return 'is not a regular file';
  try {
    accessSync(p, fsConstants.R_OK);
  } catch {
    return NOT_READABLE;
  }
  return null;
}

/** A property of a JSON object node, read without checks (for cross-references). */
export function findProp(obj: Node, key: string): Node | undefined {
  for (const prop of obj.children ?? []) {
    if (prop.children?.[0]?.value === key) return prop.children[1];
  }
  return undefined;
}
