/**
 * bull-board over Herald's stage queues, read-only, as a Fastify plugin that the dashboard mounts behind
 * its sign-in at /dashboard/queues. Kept apart from the dashboard's routes: bull-board's Fastify adapter
 * loads an ES module (through @fastify/static), which the ops process loads as Node does (Node 20.19 and
 * later) and which only the ops entry point imports.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyPluginAsync } from 'fastify';

export const QUEUE_BOARD_PATH = '/dashboard/queues';

export function queueBoard(queues: readonly Queue[]): FastifyPluginAsync {
  const adapter = new FastifyAdapter();
  adapter.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: true })),
    serverAdapter: adapter,
    options: {
      uiConfig: {
        boardTitle: 'Herald queues',
        hideDocsLink: true,
        miscLinks: [{ text: 'Herald dashboard', url: '/dashboard' }],
      },
    },
  });
  return async (scope) => {
    await scope.register(adapter.registerPlugin(), { prefix: QUEUE_BOARD_PATH });
  };
}
