#!/usr/bin/env node
/**
 * Completes package-lock.json with the platform-specific optional packages that npm could not record.
 *
 * npm resolves a native package's optional platform builds (@swc/core-darwin-arm64, ...) only where the
 * registry serves them; the registry this project builds against serves the linux-x64 builds alone, so npm
 * leaves the others out of the lock, and then `npm ci` refuses the lock as out of sync. This adds an entry
 * for each missing one, with the os / cpu / libc its name says, so `npm ci` sees a complete lock and skips
 * them as other platforms' builds. Run it after any change to the dependencies: node infra/npm/complete-lock.js
 */
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const OS = [
  'darwin',
  'linux',
  'win32',
  'freebsd',
  'android',
  'openharmony',
  'sunos',
  'aix',
  'netbsd',
  'openbsd',
];
const CPU = {
  x64: 'x64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: 'ia32',
  ppc64: 'ppc64',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
};

function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const os = parts.find((p) => OS.includes(p));
  const cpu = parts.map((p) => CPU[p]).find(Boolean);
  const libc = parts.some((p) => p.startsWith('musl'))
    ? 'musl'
    : parts.some((p) => p === 'gnu' || p.startsWith('gnueabi'))
      ? 'glibc'
      : undefined;
  return os && cpu ? { os, cpu, libc } : undefined;
}

const path = join(__dirname, '..', '..', 'package-lock.json');
const lock = JSON.parse(readFileSync(path, 'utf8'));
let added = 0;
for (const [key, pkg] of Object.entries(lock.packages)) {
  for (const [dep, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const at = `node_modules/${dep}`;
    if (lock.packages[at]) continue;
    const platform = platformOf(dep);
    if (!platform) {
      console.warn(
        `complete-lock: ${dep} (optional dependency of ${key || 'the root'}) is missing and names no platform; left alone`,
      );
      continue;
    }
    lock.packages[at] = {
      version,
      dev: pkg.dev || undefined,
      optional: true,
      os: [platform.os],
      cpu: [platform.cpu],
      ...(platform.libc ? { libc: [platform.libc] } : {}),
    };
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
writeFileSync(path, JSON.stringify(lock, null, 2) + '\n');
console.log(`complete-lock: added ${added} platform entries`);
