// tuf-js as the client: refresh from METADATA_URL and download TARGET.
//   node tufjs_client.js METADATA_URL TARGET_BASE_URL METADATA_DIR TARGET_DIR TARGET
// METADATA_DIR must hold the trusted root.json. Prints one JSON line; exit 0/1.
'use strict';
const path = require('path');
const { Updater } = require('tuf-js');

async function main() {
  const [metadataBaseUrl, targetBaseUrl, metadataDir, targetDir, target] = process.argv.slice(2);
  const updater = new Updater({
    metadataBaseUrl, targetBaseUrl, metadataDir, targetDir,
    config: { fetchTimeout: 10000, fetchRetries: 0 },
  });
  await updater.refresh();
  const info = await updater.getTargetInfo(target);
  if (!info) throw new Error(`target ${target} not found`);
  const file = await updater.downloadTarget(info, path.join(targetDir, 'download.bin'));
  console.log(JSON.stringify({ ok: true, file, length: info.length, custom: info.custom }));
}

main().catch((e) => {
  console.error(`tuf-js: ${e && e.message ? e.message : e}`);
  process.exit(1);
});
