import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * Python side of the SQL store end-to-end tests: the frameworks create and change the rows
 * (python/authlib_flask.py, python/django_fixture.py) and oauthlib signs the OAuth1 requests
 * (../oauth1/python/sign_oauthlib.py). Debian's interpreter, never whatever `python3` is on PATH;
 * a missing module fails the run (.ci/run installs them), it never skips.
 */

const PYTHON = '/usr/bin/python3';
const run = promisify(execFile);

const script = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const FLASK = script('./python/authlib_flask.py');
const DJANGO = script('./python/django_fixture.py');
const SIGNER = script('../oauth1/python/sign_oauthlib.py');

export interface FlaskRows {
  readonly userId: string;
  readonly username: string;
  readonly client: { readonly clientId: string; readonly clientSecret: string };
  readonly token: { readonly token: string; readonly tokenSecret: string };
  readonly doomed: { readonly token: string; readonly tokenSecret: string };
  readonly bearer: Readonly<Record<'valid' | 'expired' | 'revoked' | 'to_revoke', string>>;
}

export interface DjangoRows {
  readonly userId: string;
  readonly username: string;
  /** The django-oauth-toolkit Application's generated client_id. */
  readonly clientId: string;
  readonly bearer: Readonly<Record<'valid' | 'expired' | 'to_revoke' | 'machine', string>>;
  readonly client: { readonly clientId: string; readonly clientSecret: string };
  readonly token: { readonly token: string; readonly tokenSecret: string };
}

async function python(args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run(PYTHON, [...args], { timeout: 60_000 });
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`${args.slice(0, 3).join(' ')} failed: ${stderr.split('\n').slice(-5).join('\n')}`);
  }
}

/** `postgres://u@h:p/db` → SQLAlchemy's `postgresql+psycopg2://…`, `mysql://` → `mysql+mysqldb://`. */
function sqlalchemyUrl(url: string): string {
  return url.replace(/^postgres(ql)?:/, 'postgresql+psycopg2:').replace(/^mysql:/, 'mysql+mysqldb:');
}

export const authlibFlask = {
  async setup(url: string): Promise<FlaskRows> {
    return JSON.parse(await python([FLASK, sqlalchemyUrl(url), 'setup'])) as FlaskRows;
  },
  /** OAuth2Token.access_token_revoked_at = now, through the ORM. */
  async revoke(url: string, accessToken: string): Promise<void> {
    await python([FLASK, sqlalchemyUrl(url), 'revoke', accessToken]);
  },
  async deleteTokenCredential(url: string, token: string): Promise<void> {
    await python([FLASK, sqlalchemyUrl(url), 'delete', token]);
  },
};

export const django = {
  async setup(url: string): Promise<DjangoRows> {
    return JSON.parse(await python([DJANGO, url, 'setup'])) as DjangoRows;
  },
  /** django-oauth-toolkit AccessToken.revoke(): deletes the row. */
  async revoke(url: string, accessToken: string): Promise<void> {
    await python([DJANGO, url, 'revoke', accessToken]);
  },
  async deleteTokenCredential(url: string, token: string): Promise<void> {
    await python([DJANGO, url, 'delete', token]);
  },
};

export interface OauthlibSpec {
  readonly client_key: string;
  readonly client_secret: string;
  readonly resource_owner_key?: string;
  readonly resource_owner_secret?: string;
  readonly signature_method?: string;
  readonly method: string;
  readonly url: string;
}

export interface Signed {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
}

/** Signs with python oauthlib (header placement); the caller sends exactly what it produced. */
export function signWithOauthlib(specs: readonly OauthlibSpec[]): Promise<Signed[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [SIGNER], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) reject(new Error(`oauthlib signer exited ${code}: ${stderr}`));
      else resolve((JSON.parse(stdout) as { signed: Signed[] }).signed);
    });
    child.stdin.end(
      JSON.stringify(
        specs.map((spec) => ({ signature_method: 'HMAC-SHA1', signature_type: 'AUTH_HEADER', ...spec })),
      ),
    );
  });
}

/** Polls `check` until it is true; resolves the milliseconds it took, or rejects after `limitMs`. */
export async function msUntil(check: () => Promise<boolean>, limitMs: number, stepMs = 50): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    if (await check()) return performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
  throw new Error(`condition not met within ${limitMs}ms`);
}
