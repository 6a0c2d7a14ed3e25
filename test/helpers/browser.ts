// Headless Chromium for the browser tests (test/browser-*.test.ts): the system's /usr/bin/chromium
// (Debian's package; .ci/run installs it) driven by playwright-core, which never downloads a
// browser. A missing Chromium is an error that says so: the tests fail, they never skip.
import { existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { importMapFor, installPackage, type InstalledPackage } from './package.ts';
import { withDeadline } from './deadline.ts';
import { startStaticServer, protocolModule, type StaticServer, type Mount } from '../../apps/demo/serve.ts';

/** RS_CHROMIUM overrides the path. */
export const CHROMIUM = process.env.RS_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Throws, saying what to do, when there is no Chromium to run. */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing: no ${CHROMIUM}. The browser tests need it: apt-get install -y chromium (.ci/run does this), or set RS_CHROMIUM to a Chromium binary`);
  }
}

/** Launches Chromium with a fresh profile (playwright makes a temporary one). Close it in a finally. */
export async function launchChromium(): Promise<Browser> {
  requireChromium();
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
}

/** Page errors and console errors, for failure messages. */
export function pageProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console.error: ${m.text()}`); });
  return problems;
}

/** A blank page whose import map names the installed package's exports (served at /ringsocket/). */
export function testPageHtml(pkgDir: string): string {
  const map = importMapFor(pkgDir, '/ringsocket/');
  return `<!doctype html>\n<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>ringsocket browser test</title>
<script type="importmap">${JSON.stringify(map)}</script></head><body></body></html>\n`;
}

export interface BrowserFixture {
  installed: InstalledPackage;
  server: StaticServer;
  browser: Browser;
  /** Every request path the server was asked for, in order. */
  requests: string[];
  /** Removes everything: closes Chromium, then the server, then the project. Never throws. */
  dispose(): Promise<string[]>;
}

/**
 * The installed package (npm pack + install into a temp project), served over http on loopback:
 *   /                 a blank test page with an import map for the package's exports
 *   /ringsocket/...   the installed node_modules/ringsocket (its dist/ and build/ only)
 *   /protocol/*.js    apps/chat and apps/silly-calc protocol modules, as the demo serves them
 * and Chromium. `extra` mounts more directories.
 */
export async function browserFixture(extra: Mount[] = []): Promise<BrowserFixture> {
  const cleanups: (() => Promise<void> | void)[] = [];
  const dispose = async (): Promise<string[]> => {
    const errors: string[] = [];
    for (const c of cleanups.reverse()) {
      try { await c(); } catch (err) { errors.push((err as Error).message); }
    }
    cleanups.length = 0;
    return errors;
  };
  try {
    requireChromium(); // before the 10 s of packing
    const installed = installPackage();
    cleanups.push(() => installed.remove());
    const pageDir = mkdtempSync(join(tmpdir(), 'rs-page-'));
    cleanups.push(() => rmSync(pageDir, { recursive: true, force: true }));
    writeFileSync(join(pageDir, 'index.html'), testPageHtml(installed.pkg));
    const requests: string[] = [];
    const js = 'text/javascript; charset=utf-8';
    const server = await startStaticServer({
      mounts: [
        { prefix: '/', dir: pageDir, allow: { extensions: ['.html'] } },
        { prefix: '/ringsocket/', dir: installed.pkg, allow: { prefixes: ['dist/', 'build/'] } },
        ...extra,
      ],
      routes: {
        '/protocol/chat.js': { type: js, body: () => protocolModule('chat') },
        '/protocol/silly-calc.js': { type: js, body: () => protocolModule('silly-calc') },
      },
      onRequest: (path) => requests.push(path),
    });
    cleanups.push(() => server.close());
    const browser = await launchChromium();
    cleanups.push(() => browser.close());
    return { installed, server, browser, requests, dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}

/** A new page (its own context) on the test page, with its problems collected. */
export async function openTestPage(browser: Browser, origin: string, path = '/'): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = pageProblems(page);
  await page.goto(origin + path);
  return { page, problems };
}

/**
 * Runs `fn(arg)` in the page (playwright's evaluate: `fn` is sent as source, so it may use only
 * its argument and globals; `import('ringsocket/...')` goes through the page's import map), with a
 * deadline; a failure carries the page's errors.
 */
export function evaluate<A, R>(page: Page, problems: string[], what: string, fn: (arg: A) => Promise<R>, arg: A, ms = 20_000): Promise<R> {
  return withDeadline(page.evaluate(fn as (arg: unknown) => Promise<R>, arg), ms, what).catch((err: Error) => {
    throw new Error(`${what}: ${err.message}\npage problems: ${problems.join('\n') || 'none'}`);
  });
}
