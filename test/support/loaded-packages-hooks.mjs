// Module hooks for test/support/loaded-packages.ts: they run on Node's hooks thread and tell the
// main thread each ES module URL that gets loaded (CommonJS ones show in require's cache instead).
let port;
export function initialize(data) {
  port = data.port;
}
export async function load(url, context, nextLoad) {
  port.postMessage(url);
  return nextLoad(url, context);
}
