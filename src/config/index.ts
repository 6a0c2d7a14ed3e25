// The configuration loader: read a JSON-with-comments file, check everything, resolve defaults.
//   loadConfig(path)                  reads the file, then parseConfig
//   parseConfig(text, sourcePath)     sourcePath names the file in messages and is the base for
//                                     relative app_path / privkey_path / pubchain_path
//   formatConfigErrors(errors)        one line per error: "file:line:column: $.path: message"
import { readFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { getLocation, parseTree, printParseErrorCode, type ParseError } from 'jsonc-parser';
import type { ConfigError, ParseResult } from './types.ts';
import { Collector, childPath } from './collector.ts';
import { systemEnv, type ConfigEnv } from './env.ts';
import { validateTree } from './validate.ts';

export type { Config, ConfigError, ParseResult, PortConfig, CertConfig, AppConfig, EndpointConfig, EndpointUrl, ListenAddress } from './types.ts';
export type { ConfigEnv } from './env.ts';
export { systemEnv } from './env.ts';
export { parseEndpointUrl, parseOrigin, certCovers } from './url.ts';
export { estimateSharedMemory } from './memory.ts';

const PARSE_MESSAGES: Record<string, string> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'invalid number',
  PropertyNameExpected: 'expected a key in double quotes',
  ValueExpected: 'expected a value',
  ColonExpected: 'expected ":" after the key',
  CommaExpected: 'expected "," between elements',
  CloseBraceExpected: 'expected "}" to close the object',
  CloseBracketExpected: 'expected "]" to close the list',
  EndOfFileExpected: 'expected the end of the file after the root object',
  InvalidCommentToken: 'invalid comment',
  UnexpectedEndOfComment: 'unterminated /* comment',
  UnexpectedEndOfString: 'unterminated string',
  UnexpectedEndOfNumber: 'unterminated number',
  InvalidUnicode: 'invalid \\u escape',
  InvalidEscapeCharacter: 'invalid escape character',
  InvalidCharacter: 'invalid character in a string (control characters must be escaped)',
};

function jsonPath(segments: (string | number)[]): string {
  return segments.reduce<string>((p, s) => childPath(p, s), '$');
}

/** Checks a configuration text. `sourcePath` is the file it came from (for messages and relative paths). */
export function parseConfig(text: string, sourcePath: string, env: ConfigEnv = systemEnv): ParseResult {
  const file = resolvePath(sourcePath);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const c = new Collector(text, file);
  if (text.trim() === '') {
    c.error('$', 'the file is empty; expected a JSON object with at least "ports" and "apps"', 0);
    return { errors: c.errors, warnings: c.warnings };
  }
  const parseErrors: ParseError[] = [];
  const root = parseTree(text, parseErrors, { allowTrailingComma: true, disallowComments: false, allowEmptyContent: false });
  if (parseErrors.length > 0 || !root) {
    for (const e of parseErrors) {
      const name = printParseErrorCode(e.error);
      const token = text.slice(e.offset, e.offset + Math.max(e.length, 1));
      const found = e.offset >= text.length ? 'the end of the file' : JSON.stringify(token.length > 30 ? token.slice(0, 30) + '...' : token);
      c.error(jsonPath(getLocation(text, e.offset).path), `syntax error: ${PARSE_MESSAGES[name] ?? name}, found ${found}`, e.offset);
    }
    return { errors: c.errors, warnings: c.warnings };
  }
  const config = validateTree(c, root, dirname(file), file, env);
  const byPosition = (a: ConfigError, b: ConfigError) =>
    (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0);
  const errors = [...c.errors].sort(byPosition);
  const warnings = [...c.warnings].sort(byPosition);
  return errors.length === 0 && config ? { config, errors, warnings } : { errors, warnings };
}

/** Reads and checks a configuration file. A file that cannot be read is one error at "$". */
export function loadConfig(path: string, env: ConfigEnv = systemEnv): ParseResult {
  const file = resolvePath(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'it is a directory' :
      err.code === 'EACCES' ? 'permission denied' : err.message;
    return { errors: [{ path: '$', file, message: `cannot read the configuration file: ${why}` }], warnings: [] };
  }
  return parseConfig(text, file, env);
}

/** One line per error (or warning): "file:line:column: $.path: message". */
export function formatConfigErrors(errors: readonly ConfigError[]): string {
  return errors.map((e) => {
    const where = e.file === undefined ? '' : e.line === undefined ? `${e.file}: ` : `${e.file}:${e.line}:${e.column}: `;
    return `${where}${e.path}: ${e.message}`;
  }).join('\n');
}
