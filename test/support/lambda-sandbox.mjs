/**
 * A stand-in for one Lambda execution environment running the executor bundle (dist/executor.mjs):
 * one invocation at a time, reused for the next, as Lambda reuses a warm sandbox. There is no
 * Lambda emulator that streams responses, so test/support/lambda-service.ts starts this process
 * (as its own unprivileged uid when the tests run as root, as Lambda's sandbox user is) and speaks
 * to it in newline-delimited JSON: requests `{id, event}` and `{id, hangup}` on stdin, answers
 * `{id, chunk}` (base64) and `{id, end}` on stdout.
 */
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';

// Lambda's Node.js runtime provides this global; the streaming handler is the function itself.
globalThis.awslambda = { streamifyResponse: (handler) => handler };
const { handler } = await import(pathToFileURL(process.argv[2]).href);

const send = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
const streams = new Map();
const queue = [];
let busy = false;

async function invoke({ id, event }) {
  const stream = new Writable({
    write(chunk, _encoding, done) {
      send({ id, chunk: Buffer.from(chunk).toString('base64') });
      done();
    },
  });
  streams.set(id, stream);
  try {
    await handler(event, stream, {});
  } catch (error) {
    send({ id, error: String(error?.message ?? error) });
  }
  streams.delete(id);
  send({ id, end: true });
}

async function drain() {
  if (busy) return;
  busy = true;
  while (queue.length) await invoke(queue.shift());
  busy = false;
}

for await (const line of createInterface({ input: process.stdin })) {
  const message = JSON.parse(line);
  if (message.hangup) streams.get(message.id)?.destroy();
  else {
    queue.push(message);
    void drain();
  }
}
