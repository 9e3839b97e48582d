// Integration tests start real processes against a real broker: allow minutes, not seconds.
jest.setTimeout(180_000);
