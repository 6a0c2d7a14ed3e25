// Shared start-up check for the command-line entry points. Plain JavaScript that old Node versions
// can parse: on a Node older than 22.12 it prints one clear line and exits 1. On 22.12-22.17,
// where TypeScript type stripping is not on by default, it re-runs the command with
// --experimental-strip-types; from 22.18 (and on 23.6+, 24) the .ts sources load as they are.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * The module to run for `path` (relative to src/, without extension): the TypeScript source in a
 * checkout of the repository, the compiled dist/ JavaScript in an installed package (which ships
 * no sources: Node does not strip types under node_modules).
 */
export function sourceOrDist(path) {
  var src = new URL('../src/' + path + '.ts', import.meta.url);
  return existsSync(src) ? src.href : new URL('../dist/' + path + '.js', import.meta.url).href;
}

/**
 * Returns true when this process may go on; false when the command runs in a child process (Node
 * 22.12-22.17: re-run with type stripping) and this one only waits for it: the caller stops there.
 */
export function ensureNode(entry) {
  var parts = process.versions.node.split('.').map(Number);
  var major = parts[0], minor = parts[1];
  if (major < 22 || (major === 22 && minor < 12)) {
    // In a checkout, npm scripts put the node@24 devDependency first on PATH; an installed
    // package has no such thing to offer.
    var checkout = existsSync(new URL('../src/cli/main.ts', import.meta.url));
    process.stderr.write(
      'ringsocket: Node ' + process.versions.node + ' is too old; Node >= 22.12 is required ' +
      '(SO_REUSEPORT in worker threads). ' + (checkout
        ? 'Run it through npm (npm start / npx ' + entry + '), which uses the bundled node@24, or install Node 24.\n'
        : 'Install Node 22.12 or later (24 recommended).\n'));
    process.exit(1);
  }
  if (!process.features || !process.features.typescript) {
    if (process.execArgv.indexOf('--experimental-strip-types') === -1) {
      var child = spawn(process.execPath,
        ['--experimental-strip-types', '--no-warnings=ExperimentalWarning'].concat(process.execArgv, process.argv.slice(1)),
        { stdio: 'inherit' });
      // This process is the one a service manager knows (systemd's $MAINPID): its signals go to
      // the daemon (SIGHUP reloads it, SIGTERM stops it), and it ends as the daemon ends.
      ['SIGHUP', 'SIGTERM', 'SIGINT', 'SIGUSR1', 'SIGUSR2'].forEach(function (sig) {
        process.on(sig, function () { child.kill(sig); });
      });
      child.on('exit', function (code, signal) { process.exit(code === null ? (signal ? 1 : 0) : code); });
      child.on('error', function (err) {
        process.stderr.write('ringsocket: cannot run ' + process.execPath + ': ' + err.message + '\n');
        process.exit(1);
      });
      return false;
    }
  }
  return true;
}
