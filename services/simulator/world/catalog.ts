/**
 * Static flavour of the simulated world: the time-zone mix, typical basket sizes per category, the
 * categories with broad appeal, names. Nothing here is random; the world draws from it with its seed.
 */

/** One share of the users' time-zone mix. */
export interface ZoneShare {
  /** IANA zone name. */
  zone: string;
  /** Relative weight in the mix (normalized over the list). */
  weight: number;
  /** BCP 47 locales of users in this zone, the first the most common. */
  locales: readonly string[];
  /** ISO 4217 currency of their purchases. */
  currency: string;
  /** Units of `currency` per EUR, so that amounts stay realistic in every currency. */
  perEur: number;
}

/**
 * The default mix: most users in the city's zone, the rest spread over DST zones (Europe/*, America/New_York,
 * America/Los_Angeles, Australia/Adelaide), zones without DST (UTC, Asia/Kolkata, Asia/Tokyo,
 * America/Sao_Paulo, which dropped DST in 2019) and fractional offsets (Kolkata +5:30, Adelaide +9:30/+10:30,
 * Kathmandu +5:45).
 */
export function defaultZoneMix(cityZone: string, cityLocale: string, cityCurrency: string): ZoneShare[] {
  const others: ZoneShare[] = [
    { zone: 'Europe/London', weight: 5, locales: ['en-GB'], currency: 'GBP', perEur: 0.85 },
    { zone: 'Europe/Berlin', weight: 3, locales: ['de-DE', 'en-GB'], currency: 'EUR', perEur: 1 },
    { zone: 'America/New_York', weight: 5, locales: ['en-US', 'es-US'], currency: 'USD', perEur: 1.1 },
    { zone: 'America/Los_Angeles', weight: 2, locales: ['en-US', 'es-US'], currency: 'USD', perEur: 1.1 },
    { zone: 'America/Sao_Paulo', weight: 4, locales: ['pt-BR'], currency: 'BRL', perEur: 6 },
    { zone: 'Asia/Kolkata', weight: 3, locales: ['en-IN', 'hi-IN'], currency: 'INR', perEur: 90 },
    { zone: 'Asia/Tokyo', weight: 3, locales: ['ja-JP'], currency: 'JPY', perEur: 160 },
    { zone: 'UTC', weight: 3, locales: ['en-GB', 'en'], currency: 'EUR', perEur: 1 },
    { zone: 'Australia/Adelaide', weight: 1, locales: ['en-AU'], currency: 'AUD', perEur: 1.65 },
    { zone: 'Asia/Kathmandu', weight: 1, locales: ['ne-NP', 'en'], currency: 'NPR', perEur: 145 },
  ].filter((z) => z.zone !== cityZone);
  const city: ZoneShare = {
    zone: cityZone,
    weight: 70,
    locales: cityLocale.startsWith('es') ? [cityLocale, 'en-GB', 'ca-ES'] : [cityLocale, 'en-GB'],
    currency: cityCurrency,
    perEur: others.find((o) => o.currency === cityCurrency)?.perEur ?? 1,
  };
  return [city, ...others];
}

/** Median basket (EUR) per category; others default to `DEFAULT_BASKET_EUR`. */
export const BASKET_EUR: Readonly<Record<string, number>> = {
  groceries: 38,
  wine: 24,
  bakery: 7,
  coffee: 4.5,
  restaurants: 42,
  fast_food: 12,
  pharmacy: 18,
  beauty: 32,
  fashion: 60,
  shoes: 75,
  sports: 55,
  outdoor: 70,
  electronics: 220,
  phones: 450,
  gaming: 55,
  books: 19,
  toys: 30,
  baby: 40,
  pets: 28,
  home: 45,
  furniture: 320,
  garden: 35,
  hardware: 26,
  auto: 120,
  fuel: 55,
  travel: 480,
  hotels: 210,
  cinema: 18,
  music: 25,
  jewelry: 260,
};
export const DEFAULT_BASKET_EUR = 40;

/** Categories most people buy from: more users prefer them, more stores sell them, popular sales use them. */
export const BROAD_APPEAL: Readonly<Record<string, number>> = {
  groceries: 4,
  restaurants: 3,
  fast_food: 3,
  coffee: 3,
  fashion: 2.5,
  pharmacy: 2.5,
  bakery: 2,
  electronics: 2,
  beauty: 1.8,
  shoes: 1.6,
  cinema: 1.5,
  fuel: 1.5,
  home: 1.4,
  books: 1.3,
};

export const STORE_NAME_PREFIXES = [
  'Central',
  'Plaza',
  'Sol',
  'Norte',
  'Sur',
  'Gran Via',
  'Barrio',
  'La Esquina',
  'Mercado',
  'Nova',
  'Retiro',
  'Castellana',
  'Prado',
  'Atocha',
  'Lavapies',
  'Chamberi',
] as const;

export const SALE_HOOKS = [
  'Flash sale',
  'Today only',
  'Weekend deal',
  'Members week',
  'Clearance',
  'Happy hour',
] as const;

/** "fast_food" -> "Fast food". */
export function prettyCategory(category: string): string {
  const s = category.replace(/[_-]+/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Kilometres per degree of latitude (and of longitude at the equator): spreads places around the center. */
export const KM_PER_DEG_LAT = 111.32;
