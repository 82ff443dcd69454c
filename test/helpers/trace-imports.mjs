// `node --import ./test/helpers/trace-imports.mjs …`: every ES module URL this thread resolves is
// appended to $TRACE_IMPORTS_FILE as "<threadId> <url>" (workers run it too, with their own id).
import { register } from 'node:module';
import { threadId } from 'node:worker_threads';

register(new URL('./trace-imports-hooks.mjs', import.meta.url), {
  data: { file: process.env.TRACE_IMPORTS_FILE, threadId },
});
