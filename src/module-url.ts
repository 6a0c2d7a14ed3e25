// Thread entry files are loaded by URL (new Worker(url)), which no compiler rewrites: from src/
// they are .ts (Node strips the types), from the published dist/ they are .js.

/** The URL of module `name` (no extension) beside `base` (an import.meta.url), in base's form. */
export function siblingModule(base: string, name: string): URL {
  return new URL(`${name}${base.endsWith('.ts') ? '.ts' : '.js'}`, base);
}
