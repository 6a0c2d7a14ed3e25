// A self-signed EC certificate for `cn` (also its subjectAltName), made with openssl for a test:
// the key and the chain as PEM files in `dir`, named `${name}.key` and `${name}.pem`.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export function selfSigned(dir: string, name: string, cn = name): { key: string; cert: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${cn}`, '-addext', `subjectAltName=DNS:${cn}`],
    { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string; status?: number | null };
    if (e.code === 'ENOENT') throw new Error('this test needs openssl (to make its certificates), and there is no openssl on the PATH');
    throw new Error(`openssl could not make a test certificate (exit status ${e.status ?? e.code}): ${e.stderr?.trim() || e.message}`);
  }
  return { key, cert };
}
