/** Templates: checked at start (unknown variable, strategy, missing fallback), rendered per locale at delivery. */
import { ConfigError } from '../../shared/errors';
import type { Candidate, Winner } from '../../shared/schemas/jobs.schema';
import { planPushes } from '../../services/delivery/dispatcher';
import { compileTemplates, fill, unknownVariables } from '../../services/delivery/templates';
import type { UserState } from '../../services/state';

const NOW = Date.parse('2026-11-22T10:00:00Z');
const plugin = {
  render: (c: Candidate) => ({ title: `own ${c.title}`, body: 'own body', deepLink: `app://own/${c.id}` }),
};
const candidate: Candidate = {
  id: 'sale-1',
  kind: 'sale',
  category: 'running_shoes',
  title: 'Trail shoes',
  discount: 19.6,
  affinity: 0,
};
const user = (locale: string): UserState => ({
  userId: 'u1',
  timeZone: 'Europe/Madrid',
  locale,
  optIn: true,
  devices: [{ platform: 'android', token: 'token-u1-xx' }],
});
const file = {
  fallbackLocale: 'en',
  strategies: {
    promo: {
      en: { title: '{{candidate.discount}}% off {{candidate.title}}', body: 'In {{ candidate.category }}' },
      es: {
        title: '{{candidate.title}}: -{{candidate.discount}}%',
        body: '{{default.body}}',
        deepLink: 'app://es/{{candidate.id}}?u={{user.id}}',
        image: 'https://img.example/{{candidate.id}}.png',
      },
    },
  },
};
const enabled = new Set(['promo', 'other']);

function errorOf(raw: unknown): string {
  try {
    compileTemplates(raw, 'templates.json', enabled);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  return 'no error';
}

describe('templates checked at start', () => {
  it('stops on a variable that does not exist, naming the template and field', () => {
    const bad = { ...file, strategies: { promo: { en: { title: 'Hi {{user.name}}', body: 'b' } } } };
    expect(errorOf(bad)).toMatch(
      /^templates: templates\.json: promo\/en\.title uses \{\{user\.name\}\}, which is not a variable \(known: candidate\.id, /,
    );
  });
  it('stops on a strategy that is not enabled, a missing fallback locale, an unknown field', () => {
    expect(errorOf({ ...file, strategies: { nope: { en: { title: 't', body: 'b' } } } })).toBe(
      'templates: templates.json: strategy "nope" is not enabled (enabled: promo, other)',
    );
    expect(errorOf({ ...file, strategies: { promo: { es: { title: 't', body: 'b' } } } })).toBe(
      'templates: templates.json: promo has no template in the fallback locale "en"',
    );
    expect(
      errorOf({ ...file, strategies: { promo: { en: { title: 't', body: 'b', sound: 'x' } } } }),
    ).toMatch(/^templates: templates\.json: strategies\.promo\.en: /);
  });
  it('finds the unknown variables of a text and fills the known ones', () => {
    expect(unknownVariables('{{candidate.title}} {{ foo }} {{user.id}}')).toEqual(['foo']);
    expect(fill('{{ candidate.title }}!{{candidate.deepLink}}', { 'candidate.title': 'X' })).toBe('X!');
  });
});

describe('templates rendered at delivery', () => {
  const t = compileTemplates(file, 'templates.json', enabled);
  it('picks the locale, then its language, then the fallback; fills candidate, user and the default', () => {
    expect(t.render('promo', plugin, candidate, user('es-MX'))).toEqual({
      title: 'Trail shoes: -20%',
      body: 'own body',
      deepLink: 'app://es/sale-1?u=u1',
      image: 'https://img.example/sale-1.png',
    });
    expect(t.render('promo', plugin, candidate, user('fr-FR'))).toEqual({
      title: '20% off Trail shoes',
      body: 'In running shoes',
      deepLink: 'app://own/sale-1',
    });
  });
  it("keeps a strategy's own render when the file has no template for it", () => {
    expect(t.render('other', plugin, candidate, user('es'))).toEqual(plugin.render(candidate));
  });
  it('is what the dispatcher sends: the winner and the profile at delivery time', () => {
    const w: Winner = {
      decisionId: 'push-1',
      strategy: 'promo',
      targetId: 'target-1',
      candidate,
      score: 1,
      at: NOW,
    };
    const { pushes } = planPushes(
      ['u1'],
      new Map([['u1', w]]),
      new Map([['u1', user('es-ES')]]),
      new Map([['promo', { ...plugin, name: 'promo' } as never]]),
      NOW,
      new Map(),
      t,
    );
    expect(pushes[0]).toMatchObject({
      title: 'Trail shoes: -20%',
      image: 'https://img.example/sale-1.png',
      deepLink: 'app://es/sale-1?u=u1',
    });
  });
});
