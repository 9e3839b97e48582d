/** Target: what could be notified. Each trigger goes to its strategy; targets travel in batches. */
import { SchemaError } from '../../shared/errors';
import { chunk } from '../../shared/ids';
import type { StageHandler } from '../../shared/stage';
import type { Target } from '../../shared/schemas/jobs.schema';
import type { Catalog, StrategyPlugin } from '../strategies';
import type { TraceInput, Tracer } from '../state';

export function createTargetStage(deps: {
  strategies: Map<string, StrategyPlugin>;
  catalog: Catalog;
  batchSize: number;
  /** Records each user trigger's outcome for `explain`. */
  trace?: Tracer;
}): StageHandler<'target'> {
  return async ({ triggers }, ctx) => {
    const targets: Target[] = [];
    // Triggers of a batch share their catalog reads: many purchases name the same few categories.
    const stores = new Map<string, ReturnType<Catalog['storesInCategories']>>();
    let table: ReturnType<NonNullable<Catalog['basketTable']>> | undefined;
    const basketTable = deps.catalog.basketTable?.bind(deps.catalog);
    const catalog: Catalog = {
      ...deps.catalog,
      // One read of the mined table's version per batch.
      ...(basketTable ? { basketTable: () => (table ??= basketTable()) } : {}),
      storesInCategories: (categories) => {
        const key = [...categories].sort().join(',');
        let hit = stores.get(key);
        if (!hit) {
          hit = deps.catalog.storesInCategories(categories);
          stores.set(key, hit);
        }
        return hit;
      },
    };
    // A strategy that can target several triggers at once gets all of its triggers of the batch in one
    // call (its reads shared: a few round trips per job instead of a few per trigger); the others get
    // theirs one by one. Outcomes are placed back in trigger order.
    const outcomes: Array<Target | null> = new Array<Target | null>(triggers.length).fill(null);
    const byStrategy = new Map<StrategyPlugin, number[]>();
    triggers.forEach((t, i) => {
      const strategy = deps.strategies.get(t.strategy);
      if (!strategy) throw new SchemaError(`trigger ${t.triggerId}`, `unknown strategy ${t.strategy}`);
      const list = byStrategy.get(strategy);
      if (list) list.push(i);
      else byStrategy.set(strategy, [i]);
    });
    for (const [strategy, at] of byStrategy) {
      if (strategy.targetMany) {
        const got = await strategy.targetMany(
          at.map((i) => triggers[i]!),
          catalog,
        );
        at.forEach((i, j) => (outcomes[i] = got[j] ?? null));
      } else {
        for (const i of at) outcomes[i] = await strategy.target(triggers[i]!, catalog);
      }
    }
    const traced: Array<{ userId: string; entry: TraceInput }> = [];
    for (const [i, t] of triggers.entries()) {
      const target = outcomes[i] ?? null;
      if (target) targets.push(target);
      if (t.userId && deps.trace?.traced(t.userId, ctx.lane)) {
        traced.push({
          userId: t.userId,
          entry: {
            stage: 'trigger',
            what: target ? 'targeted' : 'no_candidates',
            strategy: t.strategy,
            targetId: t.triggerId,
            detail: {
              happenedAt: t.at,
              candidates: target?.candidates.length ?? 0,
              first: target?.candidates.slice(0, 3).map((c) => `${c.kind}:${c.id} (${c.category})`) ?? [],
            },
          },
        });
      }
    }
    await deps.trace?.record(traced);
    // A campaign target pages through every user by itself, so it travels alone.
    const fanOut = targets.filter((t) => t.audience.kind === 'all');
    const single = targets.filter((t) => t.audience.kind === 'user');
    return [
      ...fanOut.map((t) => ({ queue: 'audience' as const, payload: { targets: [t] } })),
      ...chunk(single, deps.batchSize).map((ts) => ({
        queue: 'audience' as const,
        payload: { targets: ts },
      })),
    ];
  };
}
