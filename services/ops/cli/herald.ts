#!/usr/bin/env node
/**
 * `herald`: the operator CLI, an HTTP client of the operator API (services/ops/http). It decides nothing
 * itself; what the API answers is what it prints. Exit codes: 0 ok, 1 the call failed (the API's message on
 * one line), 2 usage.
 */
import { parseArgs, USAGE } from './args';
import { formatAnswer } from './format';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

const processIo: CliIo = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
};

export async function runCli(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  io: CliIo = processIo,
  fetchImpl: typeof fetch = fetch,
): Promise<number> {
  const parsed = parseArgs(argv);
  if (parsed.kind === 'help') {
    io.out(USAGE);
    return 0;
  }
  if (parsed.kind === 'usage') {
    io.err(`herald: ${parsed.message}\n\n${USAGE}`);
    return 2;
  }
  const base = (env.HERALD_OPS_URL ?? 'http://127.0.0.1:7070').replace(/\/+$/, '');
  const token = env.HERALD_OPS_TOKEN;
  if (parsed.auth && !token) {
    io.err('herald: HERALD_OPS_TOKEN is not set (create a token with `herald tokens create`)');
    return 2;
  }
  const url = new URL(base + parsed.path);
  for (const [k, v] of Object.entries(parsed.query ?? {})) url.searchParams.set(k, v);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (parsed.auth) headers.authorization = `Bearer ${token}`;
  if (parsed.body) headers['content-type'] = 'application/json';

  let res: Response;
  try {
    res = await fetchImpl(url, {
      method: parsed.method,
      headers,
      body: parsed.body ? JSON.stringify(parsed.body) : undefined,
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    io.err(`herald: cannot reach ${base}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    return 1;
  }
  const text = await res.text();
  let answer: unknown;
  try {
    answer = text ? JSON.parse(text) : {};
  } catch {
    io.err(`herald: ${res.status} from ${base}, not JSON: ${text.slice(0, 200).replace(/\s+/g, ' ')}`);
    return 1;
  }
  const healthAnswer = parsed.view === 'health' && res.status === 503;
  if (!res.ok && !healthAnswer) {
    const message = (answer as { error?: unknown }).error;
    const retry = res.headers.get('retry-after');
    io.err(
      `herald: ${res.status} ${typeof message === 'string' ? message : res.statusText}` +
        (retry && !String(message).includes('try again') ? ` (retry after ${retry} s)` : ''),
    );
    return 1;
  }
  io.out(parsed.json ? JSON.stringify(answer, null, 2) : formatAnswer(parsed.view, answer));
  return healthAnswer ? 1 : 0;
}

if (require.main === module) {
  void runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
