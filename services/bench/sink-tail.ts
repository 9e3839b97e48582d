/**
 * Watching the pushes arrive: the latency benchmark tails the file sink (SINK_FILE) every 20 ms and notes
 * when each user's market-basket push first appears. Timestamps are taken when the line is read, so the
 * figures include up to one tail interval.
 */
import { closeSync, existsSync, openSync, readSync } from 'node:fs';

/** Tails the sink file: first appearance time of each user's market-basket push, and the campaign's count. */
export class SinkTail {
  readonly seen = new Map<string, number>();
  dailySale = 0;
  lastDailySaleAt = 0;
  private fd: number | undefined;
  private offset = 0;
  private rest = '';
  private readonly buf = Buffer.alloc(4 << 20);
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly path: string) {}

  start(): void {
    this.timer = setInterval(() => this.poll(), 20);
  }

  poll(): void {
    if (this.fd === undefined) {
      if (!existsSync(this.path)) return;
      this.fd = openSync(this.path, 'r');
    }
    for (;;) {
      const n = readSync(this.fd, this.buf, 0, this.buf.length, this.offset);
      if (n <= 0) return;
      const now = Date.now();
      this.offset += n;
      const text = this.rest + this.buf.toString('utf8', 0, n);
      const lines = text.split('\n');
      this.rest = lines.pop() ?? '';
      for (const line of lines) {
        if (line.includes('"strategy":"market-basket"')) {
          const id = /"userId":"([^"]+)"/.exec(line)?.[1];
          if (id && !this.seen.has(id)) this.seen.set(id, now);
        } else if (line.includes('"strategy":"daily-sale"')) {
          this.dailySale++;
          this.lastDailySaleAt = now;
        }
      }
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.fd !== undefined) closeSync(this.fd);
  }
}
