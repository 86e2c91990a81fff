/**
 * The command line: commander parses, the commands call the core, and one catch turns any
 * error into its exit status and one line on stderr. `main` returns the status; only the bin
 * script sets it on the process.
 */
import { Command, CommanderError, Option } from 'commander';
import { InterruptedError, UsageError } from '../core/errors.js';
import { localError } from '../core/local-io.js';
import { Redactor } from '../core/redact.js';
import { type DemoFlags, demoCommand } from './commands/demo.js';
import { getCommand } from './commands/get.js';
import { getSegmentsCommand } from './commands/get-segments.js';
import { headCommand } from './commands/head.js';
import { listCommand } from './commands/list.js';
import { reassembleCommand } from './commands/reassemble.js';
import { verifyCommand } from './commands/verify.js';
import { type Config, ENV_HELP, type GlobalFlags, resolveConfig, secretsGiven } from './config.js';
import { type Context, createContext } from './context.js';
import { EXIT, EXIT_HELP, exitCodeFor, messageFor } from './exit.js';
import type { Io } from './reporter.js';

export type Action = (ctx: Context, ...args: never[]) => Promise<void>;

function helpFooter(): string {
  const env = ENV_HELP.map(([name, what]) => `  ${name.padEnd(32)} ${what}`).join('\n');
  const codes = EXIT_HELP.map(([code, what]) => `  ${String(code).padEnd(4)} ${what}`).join('\n');
  return `\nEnvironment (a flag wins over its variable):\n${env}\n\nExit codes:\n${codes}\n`;
}

/** Builds the commander program; `run` receives each command's action and arguments. */
export function buildProgram(
  io: Io,
  run: (action: Action, flags: GlobalFlags, args: unknown[]) => Promise<void>,
): Command {
  const program = new Command('cfimg')
    .description(
      'Download exported server images from Rackspace Cloud Files whole, fast and verified.',
    )
    .version('0.1.0')
    .addOption(new Option('--auth-url <url>', 'Identity v2 endpoint (default: Rackspace)'))
    .addOption(new Option('--username <name>', 'Rackspace user name'))
    .addOption(new Option('--api-key <key>', 'API key (prefer CF_API_KEY: arguments show in ps)'))
    .addOption(new Option('--password <password>', 'password, instead of an API key'))
    .addOption(new Option('--region <region>', "region, e.g. ORD (default: the account's)"))
    .addOption(new Option('--snet', 'use ServiceNet (internal URL) from inside the cloud'))
    .addOption(new Option('--storage-url <url>', 'storage URL: skip Identity (needs --auth-token)'))
    .addOption(new Option('--auth-token <token>', 'token for --storage-url'))
    .addOption(new Option('--retries <n>', 'retries of a failed request (default 5)'))
    .addOption(new Option('--concurrency <n>', 'segments fetched at once (default 4)'))
    .addOption(
      new Option(
        '--timeout <seconds>',
        'give up on a silent connection after this long (default 60)',
      ),
    )
    .addOption(new Option('--no-token-cache', 'do not read or write the token cache'))
    .addOption(new Option('--insecure', 'do not verify TLS certificates (warns)'))
    .addOption(new Option('-v, --verbose', 'log every request and response to stderr'))
    .addOption(new Option('-q, --quiet', 'print only errors and warnings'))
    .addOption(new Option('--json', 'print results as JSON on stdout'))
    .addOption(new Option('--no-color', 'no colours (NO_COLOR is honoured too)'))
    .addHelpText('after', helpFooter())
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: () => undefined,
    });

  const action =
    (fn: Action) =>
    async (...args: unknown[]) => {
      const cmd = args.at(-1) as Command;
      await run(fn, cmd.optsWithGlobals() as GlobalFlags, [...args.slice(0, -2), args.at(-2)]);
    };

  program
    .command('head')
    .description("show an object's headers and what they mean (size, ETag, DLO/SLO)")
    .argument('<container/object>', 'the object')
    .action(action(headCommand as Action));

  program
    .command('get')
    .description('download a whole object or image, verified and resumable')
    .argument('<container/object>', 'the object')
    .option('-o, --output <file>', 'where to write it; - for stdout (default: its base name here)')
    .option('--no-resume', 'ignore an earlier partial download and start over')
    .option('--force', 'overwrite an existing file')
    .action(
      action(((
        ctx: Context,
        ref: string,
        flags: { output?: string; resume: boolean; force?: boolean },
      ) => getCommand(ctx, ref, flags)) as Action),
    );

  program
    .command('list')
    .description("list a container's objects; --full adds size, date, MD5 and type")
    .argument('<container>', 'the container')
    .option('--prefix <prefix>', 'only names that start with this')
    .option('--full', 'bytes, last-modified, MD5, content type and name, aligned')
    .option('--limit <n>', 'at most this many names')
    .action(action(listCommand as Action));

  program
    .command('get-segments')
    .description(
      'download the segments of an image into a directory, each verified; re-run to repair',
    )
    .argument('<container/object>', 'the image (a DLO or SLO manifest)')
    .requiredOption('--dir <dir>', 'directory for the segments (created if missing)')
    .action(action(getSegmentsCommand as Action));

  program
    .command('verify')
    .description('check a segment directory or an image file against the listing (size, MD5, ETag)')
    .argument('<container/object>', 'the image it should be')
    .argument('<path>', 'a directory from get-segments, or the whole image file')
    .option('--vhd', 'also check the VHD structure, and show disk type and virtual size')
    .option('--offline', "check against the directory's manifest file: no network, no credentials")
    .action(action(verifyCommand as Action));

  program
    .command('reassemble')
    .description('join the segments of a directory into one image file, checking each MD5')
    .argument('<dir>', 'a directory from get-segments')
    .requiredOption('-o, --output <file>', 'the image file to write')
    .option('--remove-segments', 'delete each segment once its bytes are safely in the image')
    .option('--force', 'overwrite an existing file')
    .action(action(reassembleCommand as Action));

  program
    .command('demo')
    .description('try cfimg on a local Cloud Files emulator holding an exported image')
    .option('--size <mib>', 'size of the demo image in MiB (default 300)')
    .option('--dir <dir>', 'work and keep the files here (default: a temporary directory)')
    .action(
      action(((ctx: Context, flags: DemoFlags) =>
        demoCommand(ctx, flags, (args, io) => main(['node', 'cfimg', ...args], io))) as Action),
    );

  return program;
}

/** The run in progress, so that a crash outside every await can still be masked. */
let current: { redactors: Redactor[]; verbose: () => boolean } | undefined;

/**
 * The one line for an error nothing caught (a bug): masked with every secret the run knows, and
 * with the stack only under --verbose. The bin script prints it and exits 1.
 */
export function crashMessage(err: unknown): string {
  const redactors = current?.redactors ?? [new Redactor()];
  const line = messageFor(err, redactors[redactors.length - 1] as Redactor, !!current?.verbose());
  return redactors.reduce((text, r) => r.redact(text), line);
}

/** Runs cfimg with `argv` (node, script, args...) and returns the exit status. */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => controller.abort(new InterruptedError(signal));
  const handlers = { SIGINT: () => onSignal('SIGINT'), SIGTERM: () => onSignal('SIGTERM') };
  const redactor = new Redactor();
  for (const secret of secretsGiven(argv, io.env)) redactor.add(secret);
  let verbose = argv.includes('--verbose') || argv.includes('-v');
  let ctx: Context | undefined;
  const outer = current;
  current = {
    redactors: [redactor],
    verbose: () => verbose,
  };
  process.once('SIGINT', handlers.SIGINT);
  process.once('SIGTERM', handlers.SIGTERM);
  // A reader that goes away (`cfimg list c | head -1`) makes stdout emit EPIPE; unheard, that
  // would crash with a stack trace. It ends the run with one line instead.
  let outputError: unknown;
  const onOutputError = (err: unknown) => {
    outputError ??= localError(err, 'standard output');
  };
  io.stdout.on('error', onOutputError);
  try {
    const program = buildProgram(io, async (fn, flags, args) => {
      const config: Config = resolveConfig(flags, io.env);
      verbose = config.verbose;
      ctx = createContext(config, io, controller.signal);
      current?.redactors.push(ctx.redactor);
      await fn(ctx, ...(args as never[]));
    });
    await program.parseAsync(argv);
    await flushed(io.stdout);
    if (outputError) throw outputError;
    return EXIT.ok;
  } catch (err) {
    // After SIGINT or SIGTERM, whatever failed (an aborted request: "This operation was
    // aborted") failed because of the signal: the run was interrupted.
    const { reason } = controller.signal;
    const error =
      err instanceof InterruptedError
        ? err
        : reason instanceof InterruptedError
          ? reason
          : fromCommander(err);
    if (error === undefined) return EXIT.ok;
    const r = ctx?.redactor ?? redactor;
    io.stderr.write(`${redactor.redact(messageFor(error, r, verbose))}\n`);
    return exitCodeFor(error);
  } finally {
    current = outer ?? current;
    process.off('SIGINT', handlers.SIGINT);
    process.off('SIGTERM', handlers.SIGTERM);
    io.stdout.off('error', onOutputError);
    await (ctx as Context | undefined)?.close().catch(() => undefined);
  }
}

/** Resolves once what was written to `out` has gone (or failed to go) to the reader. */
function flushed(out: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    if ((out as { destroyed?: boolean }).destroyed) resolve();
    else out.write('', () => resolve());
  });
}

/** Commander's own exits: help and version are success, parse errors are usage errors. */
function fromCommander(err: unknown): unknown {
  if (!(err instanceof CommanderError)) return err;
  if (['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(err.code))
    return undefined;
  if (err.code === 'commander.executeSubCommandAsync') return undefined;
  const text = err.message.replace(/^error: /, '');
  const hint = /Did you mean/.test(text) ? '' : ' (see cfimg --help)';
  return new UsageError(`${text}${hint}`);
}

function processIo(): Io {
  // Errors after the run has ended (a last write flushed to a closed pipe) change nothing.
  if (process.stdout.listenerCount('error') === 0) process.stdout.on('error', () => undefined);
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}
