/**
 * A module that imports zod the way Relay no longer does, by name: esbuild then keeps all of zod,
 * which is what test/bundles.test.ts must catch.
 */
import { z } from 'zod';

export const name = z.string().min(1);
