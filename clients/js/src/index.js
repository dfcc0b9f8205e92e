// xinlian-client: a small client for the xinlian node's HTTP API (README, "The client contract").
export { Key, verify, derToRaw, rawToDer, fromHex, toHex, DEFAULT_ID } from './keys.js';
export { Client, XinlianError, signPut, signTransfer, verifyBlock } from './client.js';
export * as wire from './wire.js';
