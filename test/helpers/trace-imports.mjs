// `node --import ./test/helpers/trace-imports.mjs …`: every ES module URL this process resolves is
// appended to $TRACE_IMPORTS_FILE as "<pid> <url>" (child processes inherit the flag and the file).
import { register } from 'node:module';

register(new URL('./trace-imports-hooks.mjs', import.meta.url), {
  data: { file: process.env.TRACE_IMPORTS_FILE, pid: process.pid },
});
