/**
 * Push templates per strategy and locale: title, body, deep link and image, with `{{variable}}` slots filled
 * from the candidate and the user at delivery time (late binding: the winner and the profile as they are
 * when the push goes out). A file of them is checked when send-time starts: an unknown variable, strategy or
 * field, or a strategy without its fallback locale, stops the process with one line naming the template. A
 * strategy the file does not mention keeps its own `render` as its template, so nothing changes without
 * a file.
 *
 * The file (TEMPLATES_FILE), JSON:
 *   { "fallbackLocale": "en",
 *     "strategies": { "<strategy>": { "en": { "title": "...", "body": "...", "deepLink": "...", "image": "..." },
 *                                     "es": { ... } } } }
 * A user's locale is tried as is (`es-MX`), then its language (`es`), then the fallback locale.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../../shared/errors';
import type { Candidate } from '../../shared/schemas/jobs.schema';
import type { UserState } from '../state';
import type { Rendered } from '../strategies';

/** Every variable a template may use. `default.*` is the strategy's own rendering, to wrap or reuse. */
export const TEMPLATE_VARIABLES = [
  'candidate.id',
  'candidate.kind',
  'candidate.category',
  'candidate.title',
  'candidate.discount',
  'candidate.deepLink',
  'user.id',
  'user.locale',
  'user.timeZone',
  'user.lastCategory',
  'default.title',
  'default.body',
  'default.deepLink',
] as const;
export type TemplateVariable = (typeof TEMPLATE_VARIABLES)[number];

const KNOWN = new Set<string>(TEMPLATE_VARIABLES);
const SLOT = /\{\{\s*([^}]*?)\s*\}\}/g;

const Fields = z
  .object({
    title: z.string().min(1),
    body: z.string().min(1),
    deepLink: z.string().min(1).optional(),
    image: z.string().min(1).optional(),
  })
  .strict();
const TemplateFile = z
  .object({
    fallbackLocale: z.string().min(2),
    strategies: z.record(z.string(), z.record(z.string(), Fields)),
  })
  .strict();
export type TemplateFileContent = z.input<typeof TemplateFile>;

export interface RenderedPush extends Rendered {
  image?: string;
}

/** Pure: the variables a template text uses that are not known. */
export function unknownVariables(text: string): string[] {
  return [...text.matchAll(SLOT)].map((m) => m[1]!).filter((v) => !KNOWN.has(v));
}

/** Pure: fills the slots of `text`; a variable without a value becomes empty. */
export function fill(text: string, vars: Readonly<Partial<Record<TemplateVariable, string>>>): string {
  return text.replace(SLOT, (_, name: string) => vars[name as TemplateVariable] ?? '');
}

function variables(c: Candidate, user: UserState, d: Rendered): Partial<Record<TemplateVariable, string>> {
  return {
    'candidate.id': c.id,
    'candidate.kind': c.kind,
    'candidate.category': c.category.replace(/_/g, ' '),
    'candidate.title': c.title,
    'candidate.discount': String(Math.round(c.discount)),
    ...(c.deepLink ? { 'candidate.deepLink': c.deepLink } : {}),
    'user.id': user.userId,
    'user.locale': user.locale,
    'user.timeZone': user.timeZone,
    ...(user.lastCategory ? { 'user.lastCategory': user.lastCategory.replace(/_/g, ' ') } : {}),
    'default.title': d.title,
    'default.body': d.body,
    'default.deepLink': d.deepLink,
  };
}

export interface Templates {
  /** The push of `candidate` for `user`, by the strategy's template in the user's locale, or its own render. */
  render(
    strategy: string,
    plugin: { render(c: Candidate, locale: string): Rendered },
    candidate: Candidate,
    user: UserState,
  ): RenderedPush;
}

/**
 * Checks and compiles templates. `where` names the source in errors (the file's path); `strategies` are the
 * enabled ones. Throws ConfigError with one line on the first problem.
 */
export function compileTemplates(raw: unknown, where: string, strategies: ReadonlySet<string>): Templates {
  const parsed = TemplateFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`templates: ${where}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const file = parsed.data;
  for (const [strategy, locales] of Object.entries(file.strategies)) {
    if (!strategies.has(strategy))
      throw new ConfigError(
        `templates: ${where}: strategy "${strategy}" is not enabled (enabled: ${[...strategies].join(', ')})`,
      );
    if (!locales[file.fallbackLocale])
      throw new ConfigError(
        `templates: ${where}: ${strategy} has no template in the fallback locale "${file.fallbackLocale}"`,
      );
    for (const [locale, fields] of Object.entries(locales)) {
      for (const [field, text] of Object.entries(fields)) {
        const bad = unknownVariables(text ?? '');
        if (bad.length > 0)
          throw new ConfigError(
            `templates: ${where}: ${strategy}/${locale}.${field} uses {{${bad[0]}}}, which is not a variable ` +
              `(known: ${TEMPLATE_VARIABLES.join(', ')})`,
          );
      }
    }
  }
  return {
    render(strategy, plugin, candidate, user) {
      const own = plugin.render(candidate, user.locale);
      const locales = file.strategies[strategy];
      if (!locales) return own;
      const t = locales[user.locale] ?? locales[user.locale.split('-')[0]!] ?? locales[file.fallbackLocale]!;
      const vars = variables(candidate, user, own);
      return {
        title: fill(t.title, vars),
        body: fill(t.body, vars),
        deepLink: t.deepLink ? fill(t.deepLink, vars) : own.deepLink,
        ...(t.image ? { image: fill(t.image, vars) } : {}),
      };
    },
  };
}

/** Reads and compiles TEMPLATES_FILE; an unreadable file or bad JSON throws ConfigError naming it. */
export function loadTemplates(path: string, strategies: ReadonlySet<string>): Templates {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
    throw new ConfigError(`config: TEMPLATES_FILE=${JSON.stringify(path)} cannot be read as JSON (${why})`);
  }
  return compileTemplates(raw, path, strategies);
}
