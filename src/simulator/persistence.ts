/**
 * Optional persistence of the object model: the whole state as one JSON file, written atomically
 * (temporary file, fsync, rename) after every change. A missing file starts an empty array; a
 * file that cannot be read or parsed is an error — never a silent reset, which would lose every
 * volume a cluster knows about.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { SimulatorError } from './errors.js';
import type { SimState } from './model/types.js';

const ARRAYS = ['cpgs', 'volumes', 'hosts', 'volumeSets', 'hostSets', 'vluns', 'tasks', 'qos'] as const;
const COUNTERS = [
  'systemId',
  'nextVolumeId',
  'nextWwnSerial',
  'nextHostId',
  'nextSetId',
  'nextTaskId',
  'nextVlunSeq',
] as const;

/** Reads a state file; undefined when it does not exist. */
export async function loadState(file: string): Promise<SimState | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SimulatorError(
      'SIM_STATE_IO',
      `cannot read the simulator state file ${file}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new SimulatorError(
      'SIM_STATE_CORRUPT',
      `the simulator state file ${file} is not valid JSON; fix or remove it (it is never reset silently)`,
      { cause: err },
    );
  }
  const problem = stateProblem(parsed);
  if (problem)
    throw new SimulatorError(
      'SIM_STATE_CORRUPT',
      `the simulator state file ${file} is corrupt (${problem}); fix or remove it`,
    );
  return parsed as SimState;
}

function stateProblem(s: unknown): string | undefined {
  if (s === null || typeof s !== 'object' || Array.isArray(s)) return 'not an object';
  const o = s as Record<string, unknown>;
  if (o['version'] !== 1) return `unknown version ${JSON.stringify(o['version'])}`;
  for (const k of ARRAYS) if (!Array.isArray(o[k])) return `${k} is not a list`;
  for (const k of COUNTERS) if (typeof o[k] !== 'number') return `${k} is not a number`;
  for (const v of o['volumes'] as unknown[]) {
    const r = v as Record<string, unknown>;
    if (
      typeof r['name'] !== 'string' ||
      typeof r['id'] !== 'number' ||
      typeof r['wwn'] !== 'string' ||
      !Array.isArray(r['busyTaskIds'])
    )
      return 'a volume record is malformed';
  }
  return undefined;
}

/** Writes the state after changes; overlapping requests coalesce into one more write. */
export class StateSaver {
  private running?: Promise<void>;
  private again = false;

  constructor(
    private readonly file: string,
    private readonly state: () => SimState,
  ) {}

  /** Resolves once a write that started after this call has finished. */
  save(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      await writeAtomic(this.file, JSON.stringify(this.state()));
    } while (this.again);
  }

  /** Waits for a write in progress. */
  async flush(): Promise<void> {
    await this.running;
  }
}

async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const fh = await fs.open(tmp, 'w');
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
}
