/**
 * Stack traces in terms of the sources, decoded only when one is logged.
 *
 * Lambda functions run one minified bundle with its source map beside it (`index.mjs.map`), but
 * without `--enable-source-maps`: with that flag Node.js reads and parses the whole map when it
 * loads the bundle, a cost every cold start paid for traces that few invocations ever print
 * (`npm run bench`, cold start proxy). Here the map of a file named in a stack is read the first
 * time a logged stack names it, then kept for the life of the process.
 * https://nodejs.org/api/module.html#class-modulesourcemap
 */
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The maps read so far, by the file they describe; `null` for a file with none beside it. */
const maps = new Map<string, SourceMap | null>();

function mapOf(file: string): SourceMap | null {
  let map = maps.get(file);
  if (map === undefined) {
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')));
    } catch {
      map = null;
    }
    maps.set(file, map);
  }
  return map;
}

/** `file:///var/task/index.mjs:1:2345` or `/var/task/index.mjs:1:2345`, at the end of a frame. */
const FRAME = /(file:\/\/[^\s()]+|\/[^\s():]+):(\d+):(\d+)(\)?)$/;

/** One frame's position, in the sources when a map covers it. */
function mapFrame(frame: string): string {
  const match = FRAME.exec(frame);
  if (!match) return frame;
  const [position, location = '', line = '', column = '', close = ''] = match;
  const file = location.startsWith('file://') ? fileURLToPath(location) : location;
  const entry = mapOf(file)?.findEntry(Number(line) - 1, Number(column) - 1);
  if (!entry || !('originalSource' in entry)) return frame;
  const source = new URL(entry.originalSource, pathToFileURL(file));
  const sourcePath = source.protocol === 'file:' ? fileURLToPath(source) : source.href;
  const mapped = `${sourcePath}:${entry.originalLine + 1}:${entry.originalColumn + 1}${close}`;
  return frame.slice(0, frame.length - position.length) + mapped;
}

/** `stack` with each frame in a bundle that has a source map pointing at the sources instead. */
export function sourceMappedStack(stack: string): string {
  try {
    return stack.split('\n').map(mapFrame).join('\n');
  } catch {
    return stack;
  }
}
