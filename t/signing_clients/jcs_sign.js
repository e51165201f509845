// A producer's side of candystore's signed events in Node, with nothing but
// node:crypto: RFC 8785 canonical JSON (JSON.stringify already writes strings
// and numbers as JCS wants; keys sorted by UTF-16 code units, which is what
// Array.prototype.sort compares), HMAC-SHA256 and Ed25519.  Same modes as
// jcs_sign.py; used by t/signatures_interoperate_with_python_and_node.pl.
'use strict';
const crypto = require('node:crypto');
const readline = require('node:readline');

// DER prefixes that wrap a raw 32-byte Ed25519 seed / public key (RFC 8410)
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function canon(v) {
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'number' && !Number.isFinite(v)) throw new Error('not a finite number');
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return '[' + v.map(canon).join(',') + ']';
  return '{' + Object.keys(v).sort().map((k) => JSON.stringify(k) + ':' + canon(v[k])).join(',') + '}';
}

function signedBytes(env) {
  const rest = Object.assign({}, env);
  delete rest.signature;
  return Buffer.from(canon(rest), 'utf8');
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'pubkey') {
  const priv = crypto.createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, Buffer.from(args[0], 'hex')]), format: 'der', type: 'pkcs8' });
  const spki = crypto.createPublicKey(priv).export({ format: 'der', type: 'spki' });
  console.log(spki.subarray(SPKI_PREFIX.length).toString('hex'));
} else {
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (!line.trim()) return;
    const env = JSON.parse(line);
    if (mode === 'canon') {
      console.log(canon(env));
    } else if (mode === 'sign') {
      const [alg, keyId, keyHex] = args;
      const key = Buffer.from(keyHex, 'hex');
      const msg = signedBytes(env);
      const value = alg === 'hmac-sha256'
        ? crypto.createHmac('sha256', key).update(msg).digest()
        : crypto.sign(null, msg, crypto.createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, key]), format: 'der', type: 'pkcs8' }));
      env.signature = { alg, key_id: keyId, value: value.toString('base64url') };
      console.log(JSON.stringify(env));
    } else if (mode === 'verify') {
      const [alg, keyHex] = args;
      const key = Buffer.from(keyHex, 'hex');
      const sig = env.signature;
      const msg = signedBytes(env);
      const value = Buffer.from(sig.value, 'base64url');
      let ok = false;
      if (sig.alg !== alg) ok = false;
      else if (alg === 'hmac-sha256') {
        const mac = crypto.createHmac('sha256', key).update(msg).digest();
        ok = mac.length === value.length && crypto.timingSafeEqual(mac, value);
      } else {
        const pub = crypto.createPublicKey({ key: Buffer.concat([SPKI_PREFIX, key]), format: 'der', type: 'spki' });
        ok = crypto.verify(null, msg, pub, value);
      }
      console.log(ok ? 'valid' : 'invalid');
    }
  });
}
