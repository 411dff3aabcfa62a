// @tufjs/models as the repository: writes a consistent-snapshot TUF repository
// (root v1 and v2 rotating the timestamp key, targets with one target, snapshot,
// timestamp) signed with freshly generated ed25519 and ECDSA P-256 keys.
//   node tufjs_make_repo.js OUT_DIR
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { canonicalize } = require('@tufjs/canonical-json');
const { Key, Metadata, MetaFile, Root, Signature, Snapshot, TargetFile, Targets, Timestamp } =
  require('@tufjs/models');

const out = process.argv[2];
const expires = new Date(Date.now() + 30 * 86400 * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

function makeKey(type) {
  const { publicKey, privateKey } = type === 'ed25519'
    ? crypto.generateKeyPairSync('ed25519')
    : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const body = type === 'ed25519'
    ? { keytype: 'ed25519', scheme: 'ed25519',
        keyval: { public: publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('hex') } }
    : { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256',
        keyval: { public: publicKey.export({ type: 'spki', format: 'pem' }) } };
  const keyID = crypto.createHash('sha256').update(canonicalize(body)).digest('hex');
  const key = new Key({ keyID, keyType: body.keytype, scheme: body.scheme, keyVal: body.keyval });
  const signer = (data) => new Signature({
    keyID,
    sig: crypto.sign(type === 'ed25519' ? null : 'sha256', data, privateKey).toString('hex'),
  });
  return { key, signer };
}

function write(rel, md) {
  const file = path.join(out, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const bytes = JSON.stringify(md.toJSON(), null, 1);
  fs.writeFileSync(file, bytes);
  return Buffer.from(bytes);
}

const rootKey = makeKey('ed25519');
const targetsKey = makeKey('ecdsa');
const snapshotKey = makeKey('ed25519');
const timestampKey = makeKey('ed25519');
const timestampKey2 = makeKey('ecdsa');

const root = new Root({ version: 1, specVersion: '1.0.31', expires, consistentSnapshot: true });
root.addKey(rootKey.key, 'root');
root.addKey(targetsKey.key, 'targets');
root.addKey(snapshotKey.key, 'snapshot');
root.addKey(timestampKey.key, 'timestamp');
const root1 = new Metadata(root);
root1.sign(rootKey.signer);
write('metadata/1.root.json', root1);

// Root 2 replaces the timestamp key.
const r2 = Root.fromJSON(root1.signed.toJSON());
const root2Signed = new Root({ version: 2, specVersion: '1.0.31', expires, consistentSnapshot: true });
for (const role of ['root', 'targets', 'snapshot']) {
  for (const id of r2.roles[role].keyIDs) root2Signed.addKey(r2.keys[id], role);
}
root2Signed.addKey(timestampKey2.key, 'timestamp');
const root2 = new Metadata(root2Signed);
root2.sign(rootKey.signer);
write('metadata/2.root.json', root2);

const content = Buffer.from('firmware made by an independent TUF implementation\n');
const sha256 = crypto.createHash('sha256').update(content).digest('hex');
const targetFile = new TargetFile({
  path: 'hello/world.txt', length: content.length, hashes: { sha256 },
  unrecognizedFields: { custom: { firmware: { note: 'made by @tufjs/models' } } },
});
fs.mkdirSync(path.join(out, 'targets/hello'), { recursive: true });
fs.writeFileSync(path.join(out, `targets/hello/${sha256}.world.txt`), content);

const targets = new Metadata(new Targets({ version: 1, specVersion: '1.0.31', expires,
                                           targets: { 'hello/world.txt': targetFile } }));
targets.sign(targetsKey.signer);
write('metadata/1.targets.json', targets);

const snapshot = new Metadata(new Snapshot({ version: 1, specVersion: '1.0.31', expires,
                                             meta: { 'targets.json': new MetaFile({ version: 1 }) } }));
snapshot.sign(snapshotKey.signer);
const snapshotBytes = write('metadata/1.snapshot.json', snapshot);

const timestamp = new Metadata(new Timestamp({
  version: 1, specVersion: '1.0.31', expires,
  snapshotMeta: new MetaFile({ version: 1, length: snapshotBytes.length,
                               hashes: { sha256: crypto.createHash('sha256').update(snapshotBytes).digest('hex') } }),
}));
timestamp.sign(timestampKey2.signer);
write('metadata/timestamp.json', timestamp);
console.log(JSON.stringify({ ok: true, target: 'hello/world.txt', sha256 }));
