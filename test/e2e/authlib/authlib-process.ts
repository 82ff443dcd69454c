import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/**
 * A real Authlib 1.x deployment as /usr/bin/python3 subprocesses (python/authlib_app.py): the
 * authorization server and the resource app being migrated, on one SQLite file, each on
 * 127.0.0.1 and a port of its own choosing (announced on stdout). Plus the guide's snippets.
 *
 * Debian's python3-authlib, python3-flask, python3-flask-sqlalchemy and python3-redis provide the
 * modules (.ci/run installs them); without them the suite fails with the command to run, never
 * skips.
 */

const HERE = dirname(fileURLToPath(import.meta.url));
const SCRIPT = join(HERE, 'python', 'authlib_app.py');
export const DOCS_DIR = join(HERE, '..', '..', '..', 'docs');
const PYTHON = '/usr/bin/python3';
const MODULES = ['authlib', 'flask', 'flask_sqlalchemy', 'redis'];

/** Throws a message saying what to install when the Python side cannot run. */
export function requireAuthlib(): void {
  try {
    execFileSync(PYTHON, ['-c', `import ${MODULES.join(', ')}`], { stdio: 'pipe' });
  } catch (error) {
    const detail = String((error as { stderr?: Buffer }).stderr ?? error)
      .trim()
      .split('\n')
      .at(-1);
    throw new Error(
      `test/e2e/authlib needs ${PYTHON} with ${MODULES.join(', ')} (${detail}). Install them with: ` +
        'apt-get install python3-authlib python3-flask python3-flask-sqlalchemy python3-redis (bash .ci/run does).',
    );
  }
}

export interface AuthlibProcess {
  readonly url: string;
  readonly port: number;
  /** Everything the process wrote to stderr (Flask's request log and any traceback). */
  stderr(): string;
  stop(): Promise<void>;
}

export interface AuthlibEnv {
  /** SQLite file shared by the authorization server and the resource app. */
  readonly dbPath: string;
  readonly gatewaySecret: string;
  readonly redisUrl: string;
  readonly keyPrefix: string;
}

export function newDatabasePath(): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'authlib-e2e-'));
  return { path: join(dir, 'authlib.sqlite'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function startAuthlib(
  mode: 'as' | 'resource',
  env: AuthlibEnv,
  extra: Record<string, string> = {},
): Promise<AuthlibProcess> {
  const child: ChildProcess = spawn(PYTHON, [SCRIPT, mode], {
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      DOCS_DIR,
      DB_PATH: env.dbPath,
      GATEWAY_SECRET: env.gatewaySecret,
      REDIS_URL: env.redisUrl,
      GATEWAY_KEY_PREFIX: env.keyPrefix,
      ...extra,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => fail(new Error('did not announce its port within 20 s')), 20_000);
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`authlib_app.py ${mode}: ${error.message}\n${stderr.slice(-3000)}`));
    };
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = stdout.split('\n')[0];
      if (stdout.includes('\n') && line !== undefined) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
    child.once('exit', (code) => fail(new Error(`exited with ${code} before listening`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

/** POST a form to the authorization server with client_secret_basic; the JSON answer. */
export async function asPost(
  as: AuthlibProcess,
  path: string,
  client: readonly [string, string],
  form: Record<string, string>,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${as.url}${path}`, {
    method: 'POST',
    headers: { authorization: basic(...client), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** An access token from Authlib's token endpoint (password grant for a user, else client_credentials). */
export async function issueToken(
  as: AuthlibProcess,
  client: readonly [string, string],
  scope: string,
  user?: readonly [string, string],
): Promise<string> {
  const form: Record<string, string> =
    user === undefined
      ? { grant_type: 'client_credentials', scope }
      : { grant_type: 'password', username: user[0], password: user[1], scope };
  const { status, json } = await asPost(as, '/oauth/token', client, form);
  if (status !== 200 || typeof json['access_token'] !== 'string') {
    throw new Error(`Authlib token endpoint answered ${status}: ${JSON.stringify(json)}`);
  }
  return json['access_token'];
}

/** The `# guide: name` block of a docs file: YAML parsed, anything else as text. */
export function guideSnippet(doc: string, name: string): Record<string, unknown> {
  const text = readFileSync(join(DOCS_DIR, doc), 'utf8');
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(`\`\`\`yaml\\n# guide: ${escaped}\\n([\\s\\S]*?)\`\`\``).exec(text);
  if (match === null) throw new Error(`no "# guide: ${name}" yaml block in docs/${doc}`);
  return parse(match[1]!) as Record<string, unknown>;
}
