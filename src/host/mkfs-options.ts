/**
 * The `fsCreateOptions` allowlist. StorageClass authors are tenants and the node plugin is
 * privileged, so the options passed to mkfs may only tune the filesystem being made: never name
 * a file, a directory or another device (mke2fs `-d root-directory`, `-J device=`, `-l badblocks
 * file`, `-z undo_file`; mkfs.xfs `-l logdev=`, `-r rtdev=`, `-p protofile`, `-c options=`), never
 * force, never make something else than a filesystem on this device (`-O journal_dev`, `-S`,
 * `-n`/`-N` dry runs, `-t`). A character filter cannot say this: the danger is in an option's
 * meaning, so every option name and every value has a shape here.
 *
 * Option names and value forms are those of mke2fs(8) (e2fsprogs 1.47) and mkfs.xfs(8)
 * (xfsprogs 6.x); only a subset is accepted. The syntax accepted is deliberately narrower than
 * getopt's: options are separate words (`-b 4096`, not `-b4096`, no bundling like `-jq`), and
 * sub-options are comma-separated `name` or `name=value`, each name at most once per word.
 */
import { invalidArgument } from '../errors.js';
import { SUPPORTED_FS, type FsType } from './fs.js';

/** Longest `fsCreateOptions` accepted. */
export const FS_CREATE_OPTIONS_MAX = 200;

/** A value shape: a regular expression and how the docs name it. */
interface Shape {
  re: RegExp;
  doc: string;
}

const UINT: Shape = { re: /^\d{1,10}$/, doc: 'an integer' };
const POW2_BLOCK: Shape = { re: /^(1024|2048|4096|8192|16384|32768|65536)$/, doc: '1024-65536, a power of two' };
const INODE_SIZE: Shape = { re: /^(128|256|512|1024|2048|4096)$/, doc: '128-4096, a power of two' };
const PERCENT: Shape = { re: /^(50|[1-4]?\d)(\.\d{1,3})?$/, doc: 'a percentage 0-50, e.g. 1 or 0.5' };
const BOOL01: Shape = { re: /^[01]$/, doc: '0 or 1' };
/** mkfs.xfs sizes: decimal with an optional unit suffix (no hex or octal: readers misread them). */
const XFS_SIZE: Shape = { re: /^[1-9]\d{0,12}[kmgt]?$/i, doc: 'a size, e.g. 512k, 64m' };
const EXT4_LABEL: Shape = { re: /^[A-Za-z0-9._-]{1,16}$/, doc: '1-16 of [A-Za-z0-9._-]' };
const XFS_LABEL: Shape = { re: /^[A-Za-z0-9._-]{1,12}$/, doc: '1-12 of [A-Za-z0-9._-]' };
const FLAG: Shape = { re: /^$/, doc: '(no value)' };

function oneOf(...values: string[]): Shape {
  return {
    re: new RegExp(`^(${values.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`),
    doc: values.join(' | '),
  };
}

/**
 * mke2fs -O features that only shape this filesystem (a leading ^ turns one off). `journal_dev`
 * (make an external journal device instead of a filesystem) is not among them.
 */
const EXT4_FEATURES = [
  '64bit',
  'bigalloc',
  'casefold',
  'dir_index',
  'dir_nlink',
  'ea_inode',
  'encrypt',
  'extent',
  'extents',
  'extra_isize',
  'fast_commit',
  'filetype',
  'flex_bg',
  'has_journal',
  'huge_file',
  'inline_data',
  'large_dir',
  'large_file',
  'metadata_csum',
  'metadata_csum_seed',
  'meta_bg',
  'mmp',
  'orphan_file',
  'project',
  'quota',
  'resize_inode',
  'sparse_super',
  'sparse_super2',
  'stable_inodes',
  'uninit_bg',
  'verity',
] as const;
const EXT4_FEATURE_LIST: Shape = {
  re: new RegExp(`^\\^?(${EXT4_FEATURES.join('|')})(,\\^?(${EXT4_FEATURES.join('|')}))*$`),
  doc: `comma-separated features, each optionally prefixed ^: ${EXT4_FEATURES.join(', ')}`,
};

/** An option: either a single value, or comma-separated sub-options with their own shapes. */
interface OptionSpec {
  /** What the option tunes (docs). */
  meaning: string;
  /** No argument (a flag). */
  flag?: true;
  value?: Shape;
  sub?: Readonly<Record<string, Shape>>;
}

/** mke2fs(8) options accepted for ext4. */
const EXT4_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  '-b': { meaning: 'block size in bytes', value: POW2_BLOCK },
  '-C': { meaning: 'cluster size in bytes (bigalloc)', value: { re: /^\d{4,9}$/, doc: 'bytes' } },
  '-e': {
    meaning: 'behaviour on filesystem errors (panic is refused: it would let a volume crash the node)',
    value: oneOf('continue', 'remount-ro'),
  },
  '-E': {
    meaning: 'extended options',
    sub: {
      stride: UINT,
      stripe_width: UINT,
      'stripe-width': UINT,
      resize: UINT,
      lazy_itable_init: BOOL01,
      lazy_journal_init: BOOL01,
      packed_meta_blocks: BOOL01,
      num_backup_sb: oneOf('0', '1', '2'),
      nodiscard: FLAG,
      quotatype: {
        re: /^(usrquota|grpquota|prjquota)(:(usrquota|grpquota|prjquota)){0,2}$/,
        doc: 'usrquota, grpquota, prjquota joined by :',
      },
      encoding: oneOf('utf8', 'utf8-12.1'),
      orphan_file_size: UINT,
    },
  },
  '-g': { meaning: 'blocks per block group', value: UINT },
  '-G': { meaning: 'block groups per flex group', value: UINT },
  '-i': { meaning: 'bytes per inode', value: UINT },
  '-I': { meaning: 'inode size in bytes', value: INODE_SIZE },
  '-j': { meaning: 'with a journal (internal)', flag: true },
  '-J': { meaning: 'internal journal options (device= is refused)', sub: { size: UINT, fast_commit_size: UINT } },
  '-L': { meaning: 'volume label', value: EXT4_LABEL },
  '-m': { meaning: 'reserved blocks percentage', value: PERCENT },
  '-N': { meaning: 'number of inodes', value: UINT },
  '-O': { meaning: 'filesystem features', value: EXT4_FEATURE_LIST },
  '-q': { meaning: 'quiet', flag: true },
  '-T': {
    meaning: 'usage type (mke2fs.conf)',
    value: oneOf('default', 'small', 'floppy', 'news', 'largefile', 'largefile4', 'huge', 'big', 'hurd'),
  },
};

/** mkfs.xfs(8) options accepted. */
const XFS_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  '-b': { meaning: 'block size', sub: { size: XFS_SIZE } },
  '-m': {
    meaning: 'metadata features',
    sub: { crc: BOOL01, finobt: BOOL01, rmapbt: BOOL01, reflink: BOOL01, bigtime: BOOL01, inobtcount: BOOL01 },
  },
  '-d': {
    meaning: 'data section (file=, name= are refused)',
    sub: {
      agcount: UINT,
      agsize: XFS_SIZE,
      su: XFS_SIZE,
      sw: UINT,
      sunit: UINT,
      swidth: UINT,
      noalign: FLAG,
      cowextsize: UINT,
      extszinherit: UINT,
    },
  },
  '-i': {
    meaning: 'inodes',
    sub: { size: XFS_SIZE, maxpct: UINT, align: BOOL01, sparse: BOOL01, projid32bit: BOOL01, nrext64: BOOL01 },
  },
  '-l': {
    meaning: 'internal log (logdev=, internal=, file=, name= are refused)',
    sub: { size: XFS_SIZE, su: XFS_SIZE, sunit: UINT, 'lazy-count': BOOL01, version: oneOf('2') },
  },
  '-n': { meaning: 'naming (directories)', sub: { size: XFS_SIZE, version: oneOf('2', 'ci'), ftype: oneOf('1') } },
  '-s': { meaning: 'sector size', sub: { size: oneOf('512', '1024', '2048', '4096', '1k', '2k', '4k') } },
  '-L': { meaning: 'label', value: XFS_LABEL },
  '-q': { meaning: 'quiet', flag: true },
};

const TABLES: Readonly<Record<FsType, Readonly<Record<string, OptionSpec>>>> = { ext4: EXT4_OPTIONS, xfs: XFS_OPTIONS };

/** Options refused with a reason a StorageClass author can act on (the rest: "not allowed"). */
const REFUSED_WHY: Readonly<Record<FsType, Readonly<Record<string, string>>>> = {
  ext4: {
    '-d': 'it copies a node directory into the volume',
    '-l': 'it reads a node file',
    '-z': 'it writes an undo file on the node',
    '-F': 'the driver never forces mkfs',
    '-S': 'it rewrites superblocks only',
    '-n': 'it makes no filesystem',
    '-V': 'it makes no filesystem',
    '-t': 'the filesystem type comes from the volume capability',
    '-c': 'it runs a bad-block scan of the whole LUN',
  },
  xfs: {
    '-p': 'a protofile copies node files into the volume',
    '-r': 'a realtime section lives on another device',
    '-c': 'it reads a node file',
    '-f': 'the driver never forces mkfs',
    '-N': 'it makes no filesystem',
    '-V': 'it makes no filesystem',
    '-K': 'the driver sets it already',
  },
};

function refuse(where: string, fsType: FsType, message: string): never {
  throw invalidArgument(`${where}: ${message} (for ${fsType}; see docs/parameters.md for the options accepted)`);
}

/**
 * Splits `fsCreateOptions` into mkfs arguments, accepting only the allowlisted options for
 * `fsType`. INVALID_ARGUMENT (naming `where`, the parameter or volume_context key) otherwise.
 */
export function parseMkfsOptions(text: string, fsType: FsType, where: string): string[] {
  if (text.length > FS_CREATE_OPTIONS_MAX) refuse(where, fsType, `longer than ${FS_CREATE_OPTIONS_MAX} characters`);
  const words = text.split(/[ \t]+/).filter((w) => w !== '');
  const table = TABLES[fsType];
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const name = words[i]!;
    const spec = Object.hasOwn(table, name) ? table[name] : undefined;
    if (!spec) {
      const why = REFUSED_WHY[fsType][name];
      if (why) refuse(where, fsType, `mkfs option "${name}" is not allowed: ${why}`);
      if (/^-[A-Za-z]./.test(name))
        refuse(
          where,
          fsType,
          `"${name}": give each option as its own word and its value as the next word (e.g. "-b 4096")`,
        );
      refuse(where, fsType, `"${name}" is not an accepted mkfs option`);
    }
    out.push(name);
    if (spec.flag) continue;
    const value = words[++i];
    if (value === undefined || value.startsWith('-')) refuse(where, fsType, `mkfs option "${name}" needs a value`);
    if (spec.value && !spec.value.re.test(value))
      refuse(where, fsType, `mkfs option "${name}" has the invalid value "${value}": expected ${spec.value.doc}`);
    if (spec.sub) checkSubOptions(where, fsType, name, value, spec.sub);
    out.push(value);
  }
  return out;
}

/**
 * For a volume whose filesystem is not known yet (a raw block capability, GetCapacity): the
 * options must suit at least one supported filesystem; else the first one's INVALID_ARGUMENT.
 */
export function checkMkfsOptionsForSomeFs(text: string, where: string): void {
  let firstError: unknown;
  for (const fs of SUPPORTED_FS) {
    try {
      parseMkfsOptions(text, fs, where);
      return;
    } catch (err) {
      firstError ??= err;
    }
  }
  throw firstError;
}

function checkSubOptions(
  where: string,
  fsType: FsType,
  name: string,
  value: string,
  sub: Readonly<Record<string, Shape>>,
): void {
  const seen = new Set<string>();
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? '' : part.slice(eq + 1);
    const shape = Object.hasOwn(sub, key) ? sub[key] : undefined;
    if (!shape)
      refuse(
        where,
        fsType,
        `"${name} ${key}${eq < 0 ? '' : '='}" is not an accepted sub-option (accepted: ${Object.keys(sub).join(', ')})`,
      );
    if (seen.has(key)) refuse(where, fsType, `"${name} ${key}" is given twice`);
    seen.add(key);
    // mkfs.xfs takes a boolean sub-option without a value as 1.
    const valueless = eq < 0 && shape === BOOL01;
    if (!valueless && !shape.re.test(v))
      refuse(where, fsType, `"${name} ${key}" has the invalid value "${v}": expected ${shape.doc}`);
  }
}

/** One documented row of the allowlist (docs/parameters.md is generated from these). */
export interface MkfsOptionDoc {
  fsType: FsType;
  option: string;
  values: string;
  meaning: string;
}

/** The allowlist as documentation rows, in table order. */
export function mkfsOptionDocs(): MkfsOptionDoc[] {
  const rows: MkfsOptionDoc[] = [];
  for (const fsType of Object.keys(TABLES) as FsType[]) {
    for (const [option, spec] of Object.entries(TABLES[fsType])) {
      const values = spec.flag
        ? '(no value)'
        : spec.value
          ? spec.value.doc
          : Object.entries(spec.sub ?? {})
              .map(([k, s]) => (s === FLAG ? k : `${k}=${s === BOOL01 ? '0|1' : `<${s.doc}>`}`))
              .join(', ');
      rows.push({ fsType, option, values, meaning: spec.meaning });
    }
  }
  return rows;
}
