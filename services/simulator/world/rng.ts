/**
 * A small seeded PRNG (mulberry32) with the draws the simulator needs. Every random choice in the world goes
 * through one of these, so a seed fixes everything. Streams are cheap: the world derives one per
 * (purpose, user, day) with `hashSeed`, which keeps a user's day independent of every other user and day.
 */

// Local bindings: inside jest's vm context every Math.* lookup is ~40x slower than a call through one.
const { PI, abs, cos, exp, floor, imul, log, max, pow, round, sin, sqrt } = Math;

/** Mixes any number of integers / strings into one 32-bit seed (murmur3-style finalizer per part). */
export function hashSeed(...parts: ReadonlyArray<number | string>): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    if (typeof p === 'number') {
      h = mixInto(h, p | 0);
      // Keep the high bits of large integers (e.g. epoch ms) instead of truncating them away.
      if (!Number.isSafeInteger(p) || abs(p) > 0x7fffffff) h = mixInto(h, floor(p / 4294967296) | 0);
    } else {
      for (let i = 0; i < p.length; i++) h = mixInto(h, p.charCodeAt(i));
      h = mixInto(h, p.length ^ 0x5bd1e995);
    }
  }
  return fmix(h) >>> 0;
}

function mixInto(h: number, k: number): number {
  k = imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (imul(h, 5) + 0xe6546b64) | 0;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

/** Hex string of `words` 32-bit words drawn from the parts' hash: deterministic device tokens and the like. */
export function hashHex(words: number, ...parts: ReadonlyArray<number | string>): string {
  const rng = new Rng(hashSeed(...parts));
  let out = '';
  for (let i = 0; i < words; i++) out += HEX8(floor(rng.next() * 4294967296));
  out.charCodeAt(0); // flatten the rope now (V8 keeps concatenations as trees until read)
  return out;
}

function HEX8(n: number): string {
  const s = n.toString(16);
  return s.length === 8 ? s : '00000000'.slice(s.length) + s;
}

export class Rng {
  private state: number;
  private spare: number | undefined;

  /** @param seed any 32-bit integer; use `hashSeed` to derive one from several parts. */
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Restarts this stream from another seed (reusing one Rng in a hot loop spares an allocation per user). */
  reseed(seed: number): this {
    this.state = seed >>> 0;
    this.spare = undefined;
    return this;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform in [min, max). */
  uniform(min = 0, max = 1): number {
    return min + (max - min) * this.next();
  }

  /** Integer uniform in [0, n). */
  int(n: number): number {
    return floor(this.next() * n);
  }

  /** Integer uniform in [min, max] (both included). */
  intBetween(min: number, max: number): number {
    return min + floor(this.next() * (max - min + 1));
  }

  bernoulli(p: number): boolean {
    return this.next() < p;
  }

  /** Gaussian (Box-Muller, the second value is kept for the next call). */
  normal(mean = 0, sd = 1): number {
    if (this.spare !== undefined) {
      const z = this.spare;
      this.spare = undefined;
      return mean + sd * z;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = sqrt(-2 * log(u));
    this.spare = r * sin(2 * PI * v);
    return mean + sd * r * cos(2 * PI * v);
  }

  /** exp(normal(mu, sigma)). */
  logNormal(mu: number, sigma: number): number {
    return exp(this.normal(mu, sigma));
  }

  /** Exponential with the given mean. */
  exponential(mean: number): number {
    return -mean * log(1 - this.next());
  }

  /** Poisson count (Knuth below 30, rounded normal approximation above). */
  poisson(lambda: number): number {
    if (!(lambda > 0)) return 0;
    if (lambda >= 30) return max(0, round(this.normal(lambda, sqrt(lambda))));
    const limit = exp(-lambda);
    let k = 0;
    let p = this.next();
    while (p > limit) {
      k++;
      p *= this.next();
    }
    return k;
  }

  /** Gamma(shape, 1) (Marsaglia-Tsang, with the shape < 1 boost). */
  gamma(shape: number): number {
    if (shape < 1) return this.gamma(shape + 1) * pow(this.next() || Number.MIN_VALUE, 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.next();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (log(u) < 0.5 * x * x + d * (1 - v + log(v))) return d * v;
    }
  }

  /** Beta(a, b) in (0, 1). */
  beta(a: number, b: number): number {
    const x = this.gamma(a);
    const y = this.gamma(b);
    return x / (x + y);
  }

  /** A uniformly chosen element. Throws on an empty array. */
  pick<T>(items: ArrayLike<T>): T {
    if (items.length === 0) throw new RangeError('pick from an empty array');
    return items[this.int(items.length)] as T;
  }

  /** Index chosen with probability proportional to `weights[i]` (non-negative). -1 if all are zero. */
  weightedIndex(weights: ArrayLike<number>, total?: number): number {
    let sum = total ?? 0;
    if (total === undefined) for (let i = 0; i < weights.length; i++) sum += weights[i] as number;
    if (!(sum > 0)) return -1;
    let r = this.next() * sum;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i] as number;
      if (r < 0) return i;
    }
    // Float rounding can leave r at ~0: return the last non-zero weight.
    for (let i = weights.length - 1; i >= 0; i--) if ((weights[i] as number) > 0) return i;
    return -1;
  }

  /** Element chosen with probability proportional to `weight(item)`. Throws if no weight is positive. */
  weightedPick<T>(items: readonly T[], weight: (item: T) => number): T {
    const i = this.weightedIndex(items.map(weight));
    if (i < 0) throw new RangeError('weightedPick: no positive weight');
    return items[i] as T;
  }

  /** Fisher-Yates shuffle, in place; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i] as T;
      items[i] = items[j] as T;
      items[j] = t;
    }
    return items;
  }

  /** An independent stream derived from this one's next draw and the labels. */
  fork(...labels: ReadonlyArray<number | string>): Rng {
    return new Rng(hashSeed(floor(this.next() * 4294967296), ...labels));
  }
}

/** A stream from a seed, or from several parts hashed together. */
export function createRng(...parts: ReadonlyArray<number | string>): Rng {
  return new Rng(
    parts.length === 1 && typeof parts[0] === 'number' ? hashSeed(parts[0]) : hashSeed(...parts),
  );
}
