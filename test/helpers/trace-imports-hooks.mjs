import { appendFileSync } from 'node:fs';

let file;
let thread;

export function initialize(data) {
  file = data.file;
  thread = data.threadId;
}

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (file) appendFileSync(file, `${thread} ${resolved.url}\n`);
  return resolved;
}
