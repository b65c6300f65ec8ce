// The CPU a CreateVolume's logging costs the driver (docs/performance.md "CreateVolume CPU,
// fourth part"): per call a child logger with the call's bindings and the two info lines the call
// writes ("volume created", "done"), to stdout redirected to a file. Modes: `async` (createLogger
// from dist/log.js, the driver's: pino's default destination, which writes on libuv's thread
// pool), `sync` (the same options, each line written with write(2) on the main thread),
// `noredact` (as `async` without the redact paths: what the redaction costs), `off` (the loop
// without logging). Process CPU (all threads) per call is printed.
//   npm run build && for m in off async noredact sync; do node scripts/bench-log.mjs $m 20000 > /tmp/log.out; done
import { pino } from 'pino';
import { createLogger, REDACT_PATHS } from '../dist/log.js';

const mode = process.argv[2] ?? 'async';
const calls = Number(process.argv[3] ?? 40000);
const perTick = Number(process.argv[4] ?? 4);
const options = (redact) => ({
  level: 'info',
  base: undefined,
  ...(redact && { redact: { paths: REDACT_PATHS, censor: '[REDACTED]' } }),
  formatters: { level: (label) => ({ level: label }) },
});
const log =
  mode === 'sync'
    ? pino(options(true), pino.destination({ dest: 1, sync: true }))
    : mode === 'noredact'
      ? pino(options(false))
      : createLogger({ level: 'info', pretty: false });

let n = 0;
const one = () => {
  const child = log.child({ rpc: 'CreateVolume', name: `pvc-2d0c5a3e-6c1b-4f5e-9a7d-${n}` });
  child.info({ volume: `pvc-xk4ta3omhbe2lwxvhqd${n}`, sizeMiB: 1024, cpg: 'SSD_r6' }, 'volume created');
  child.info({ durationMs: 12.3 }, 'done');
};
const c0 = process.cpuUsage();
await new Promise((resolve) => {
  const tick = () => {
    for (let i = 0; i < perTick && n < calls; i++, n++) if (mode !== 'off') one();
    if (n < calls) setTimeout(tick, 0);
    else resolve();
  };
  tick();
});
const c = process.cpuUsage(c0);
process.stderr.write(
  `${mode}: ${((c.user + c.system) / calls).toFixed(1)} µs CPU per call (user ${(c.user / calls).toFixed(1)}, ` +
    `system ${(c.system / calls).toFixed(1)}), ${calls} calls, ${perTick} per tick\n`,
);
