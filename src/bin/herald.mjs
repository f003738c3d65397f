#!/usr/bin/env node
// Entry point for `herald`: registers tsx so the TypeScript sources run
// directly (docs/decisions: tsx at run time), then hands over to src/main.ts.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../main.ts');
process.exitCode = await main(process.argv.slice(2));
