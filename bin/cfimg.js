#!/usr/bin/env node
import { crashMessage, main } from '../dist/cli/main.js';

// A bug that escapes every handler still ends with one masked line and exit 1, not a raw stack.
const crash = (err) => {
  process.stderr.write(`${crashMessage(err)}\n`);
  process.exit(1);
};
process.on('uncaughtException', crash);
process.on('unhandledRejection', crash);

main(process.argv).then((code) => {
  process.exitCode = code;
});
