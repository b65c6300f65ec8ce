#!/usr/bin/env node
import { ConfigError } from '../config/backends.js';
import { StartupError } from '../errors.js';
import { VERSION } from '../version.js';
import { UsageError } from './flags.js';
import { serveCommand } from './serve.js';
import { callCommand } from './call.js';

type Command = (args: string[]) => Promise<number>;

/** Subcommands; each has its own --help. */
const COMMANDS: Record<string, { run: () => Promise<Command>; summary: string }> = {
  serve: { run: async () => serveCommand, summary: 'Run the CSI driver (controller, node, or both).' },
  call: { run: async () => callCommand, summary: 'Call any CSI RPC on a socket and print the reply (debugging).' },
  demo: {
    run: async () => (await import('./demo.js')).demoCommand,
    summary: 'Play the whole volume lifecycle against the embedded simulator and show what happened.',
  },
  simulator: {
    run: async () => (await import('./simulator.js')).simulatorCommand,
    summary: 'Run the embedded 3PAR array (WSAPI simulator) alone.',
  },
};

const HELP = `3par-csi ${VERSION} — Kubernetes CSI driver for HPE 3PAR StoreServ (WSAPI 1.3.x)

Usage: 3par-csi <command> [flags]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join('\n')}
  version    Print the version.

Run 3par-csi <command> --help for the flags of a command. Every flag has an environment twin
THREEPAR_CSI_<FLAG_NAME> (e.g. --cluster-id → THREEPAR_CSI_CLUSTER_ID).
`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === 'help' || name === '-h') {
    process.stdout.write(HELP);
    return name === undefined ? 2 : 0;
  }
  if (name === 'version' || name === '--version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(
      `3par-csi: unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(', ')}, version)\n`,
    );
    return 2;
  }
  try {
    return await (
      await command.run()
    )(args);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`3par-csi ${name}: ${err.message}\n`);
      return 2;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`3par-csi ${name}: configuration error: ${err.message}\n`);
      return 2;
    }
    if (err instanceof StartupError) {
      process.stderr.write(`3par-csi ${name}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`3par-csi: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
