/**
 * The Swift contract: the same cases against the emulator and against a real Swift (started by
 * `scripts/swift-saio.sh start`), so the emulator cannot drift from the real thing unnoticed.
 * Without a real Swift that half is skipped, and its title says how to start one.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { largeObjectCases } from './large-object-cases.js';
import { listingCases } from './listing-cases.js';
import { objectCases } from './object-cases.js';
import { emulatorTarget, REAL_SWIFT_HINT, realTarget, type SwiftTarget } from './target.js';

const real = await realTarget();

function contract(make: () => Promise<SwiftTarget | undefined>): void {
  let target: SwiftTarget | undefined;
  const get = (): SwiftTarget => {
    if (target === undefined) throw new Error('target not started');
    return target;
  };
  beforeAll(async () => {
    target = await make();
  });
  afterAll(async () => {
    await target?.cleanup();
    await target?.close();
  });
  listingCases(get);
  objectCases(get);
  largeObjectCases(get);
}

describe('Swift contract: emulator', () => contract(emulatorTarget));

describe.skipIf(real === undefined)(
  `Swift contract: real Swift${real ? '' : ` (skipped: ${REAL_SWIFT_HINT})`}`,
  () => contract(async () => real),
);
